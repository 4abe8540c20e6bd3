#!/usr/bin/env node
// The official `socket.io-client` (4.8.4) against a server's engine hooks.
//
// Usage: node hooks-client.mjs <scenario> <baseUrl>
//
// Scenarios:
// - cookies: connects with `withCredentials: true` (the client then keeps the
//   cookies its polling replies set, in Node too) and waits for the upgrade to
//   WebSocket; the server checks that the later requests carried the cookies
//   its handshake reply set.
// - refused: the server's `allowRequest` wants `token=ok` in the query: a
//   connection without it gets `connect_error` (the HTTP 403 as the error's
//   description), one with it connects.
// Exit status 0 and a final line "ok <scenario>" on success; otherwise a
// "FAIL <scenario>: <reason>" line and exit status 1; a usage error exits with 2.
// Every wait is bounded by a deadline.

import { io } from 'socket.io-client';

const WAIT_MS = 5_000;

class Failure extends Error {}

function fail(message) {
  throw new Failure(message);
}

/// Resolves with the first of `events` that `emitter` emits, as [name, ...args].
function once(emitter, events, what) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Failure(`no ${what} within ${WAIT_MS} ms`)), WAIT_MS);
    for (const name of events) {
      emitter.once(name, (...args) => {
        clearTimeout(timer);
        resolve([name, ...args]);
      });
    }
  });
}

async function cookies(url) {
  const socket = io(url, { withCredentials: true, reconnection: false, forceNew: true });
  try {
    const [event, err] = await once(socket, ['connect', 'connect_error'], 'connection');
    if (event !== 'connect') fail(`connect_error: ${err?.message}`);
    const engine = socket.io.engine;
    if (engine.transport.name !== 'websocket') {
      await once(engine, ['upgrade'], 'upgrade to WebSocket');
    }
    // One round trip over the WebSocket, so that the server has seen it.
    const reply = await socket.timeout(WAIT_MS).emitWithAck('ping');
    if (reply !== 'pong') fail(`unexpected ack ${JSON.stringify(reply)}`);
  } finally {
    socket.close();
  }
}

async function refused(url) {
  const denied = io(url, { reconnection: false, forceNew: true, transports: ['polling'] });
  try {
    const [event, err] = await once(denied, ['connect', 'connect_error'], 'refusal');
    if (event !== 'connect_error') fail('connected without a token');
    if (err.description !== 403) fail(`expected a 403, got ${err.message} ${err.description}`);
  } finally {
    denied.close();
  }
  const allowed = io(url, { reconnection: false, forceNew: true, query: { token: 'ok' } });
  try {
    const [event, err] = await once(allowed, ['connect', 'connect_error'], 'connection');
    if (event !== 'connect') fail(`connect_error with a token: ${err?.message}`);
  } finally {
    allowed.close();
  }
}

const SCENARIOS = { cookies, refused };
const [scenario, url] = process.argv.slice(2);
if (!SCENARIOS[scenario] || !url) {
  console.log(`usage: node hooks-client.mjs <${Object.keys(SCENARIOS).join('|')}> <baseUrl>`);
  process.exit(2);
}
try {
  await SCENARIOS[scenario](url);
  console.log(`ok ${scenario}`);
  process.exit(0);
} catch (e) {
  console.log(`FAIL ${scenario}: ${e instanceof Failure ? e.message : e?.stack ?? e}`);
  process.exit(1);
}
