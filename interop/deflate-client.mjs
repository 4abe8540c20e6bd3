#!/usr/bin/env node
// WebSocket compression (permessage-deflate, RFC 7692) with the official
// `socket.io-client` (4.8.4) in Node.js, whose WebSocket (the `ws` package)
// offers the extension unless the client is given `perMessageDeflate: false`.
//
// Usage: node deflate-client.mjs <baseUrl> <websocket|upgrade> <on|off> [offer|no-offer]
//   on|off:   whether the server under test has perMessageDeflate on;
//   offer:    the client's default (offers permessage-deflate, compresses its
//             messages of 1024 bytes or more); no-offer: perMessageDeflate false.
// The extension must be agreed exactly when the server has it on and the
// client offers it, with no context takeover either way.
//
// The server speaks the interop test protocol (README.md). Three clients A, B
// and C; A sends events (`message` → `message-back`), acks
// (`message-with-ack`) with text and binary of 10, 1023, 1024, 1025 bytes and
// 500 KB, and a broadcast (`broadcast`) of the same sizes that B and C must
// get unchanged. Then the bytes A's TCP socket reads and writes for a
// compressible 500 KB chat payload are counted: when compression was agreed,
// each way costs under a fifth of the payload's size (about a twelfth from
// the client, whose `ws` compresses at zlib's default level, and a seventh
// from Rally, at level 1); otherwise at least the payload's size.
// Exit status 0 and a last line "ok deflate" on success; otherwise a line
// "FAIL deflate: <reason>" and exit status 1; a usage error exits with 2.
// Every wait has a deadline, and a watchdog limits the whole run.

import { io } from 'socket.io-client';
import { isDeepStrictEqual } from 'node:util';

const WAIT_MS = 10_000; // one step
const OVERALL_DEADLINE_MS = 60_000; // the whole run
const SIZES = [10, 1023, 1024, 1025, 500_000];
const TAG = Math.random().toString(36).slice(2, 8);

class Failure extends Error {}

function fail(message) {
  throw new Failure(message);
}

function usage() {
  console.error('usage: node deflate-client.mjs <baseUrl> <websocket|upgrade> <on|off> [offer|no-offer]');
  process.exit(2);
}

const [baseUrl, mode, server, offer = 'offer'] = process.argv.slice(2);
if (!/^https?:\/\//.test(baseUrl ?? '')) usage();
if (!['websocket', 'upgrade'].includes(mode)) usage();
if (!['on', 'off'].includes(server)) usage();
if (!['offer', 'no-offer'].includes(offer)) usage();
const AGREED = server === 'on' && offer === 'offer';

/** `promise`, or a Failure after `ms`. */
function withDeadline(promise, what, ms = WAIT_MS) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Failure(`no ${what} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The next `event` on `socket`: its arguments. */
function next(socket, event, what) {
  return withDeadline(new Promise((resolve) => socket.once(event, (...args) => resolve(args))), what);
}

/** `length` bytes of text that compresses a little (a short-period sequence). */
function patternText(length) {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let out = '';
  let state = 7;
  while (out.length < length) {
    state = (state * 31 + 11) % 1009;
    out += alphabet[state % alphabet.length];
  }
  return out;
}

/** `length` bytes of binary data, of the same sequence. */
function patternBuffer(length) {
  const out = Buffer.alloc(length);
  let state = 7;
  for (let i = 0; i < length; i++) {
    state = (state * 31 + 11) % 1009;
    out[i] = state & 0xff;
  }
  return out;
}

function expectEqual(actual, expected, what) {
  const norm = (v) => (v instanceof ArrayBuffer ? Buffer.from(v) : v);
  if (!isDeepStrictEqual(actual.map(norm), expected)) {
    fail(`${what}: got something else (${JSON.stringify(actual).slice(0, 200)}...)`);
  }
}

const sockets = [];

/** A connected client, on WebSocket (after the upgrade, in upgrade mode). */
async function client(label) {
  const socket = io(baseUrl, {
    path: '/socket.io/',
    forceNew: true,
    reconnection: false,
    timeout: WAIT_MS,
    transports: mode === 'websocket' ? ['websocket'] : ['polling', 'websocket'],
    ...(offer === 'offer' ? {} : { perMessageDeflate: false }),
  });
  sockets.push(socket);
  socket.on('connect_error', (err) => console.log(`${label}: connect_error ${err.message}`));
  await next(socket, 'connect', `${label}'s connection`);
  const engine = socket.io.engine;
  if (engine.transport.name !== 'websocket') {
    await withDeadline(new Promise((resolve) => engine.once('upgrade', resolve)), `${label}'s upgrade`);
  }
  return socket;
}

/** The `ws` WebSocket under `socket`. */
function wsOf(socket) {
  const ws = socket.io.engine.transport.ws;
  if (!ws) fail('the transport has no ws WebSocket');
  return ws;
}

function checkNegotiation(socket, label) {
  const deflate = wsOf(socket)._extensions['permessage-deflate'];
  if (!AGREED) {
    if (deflate) fail(`${label}: permessage-deflate agreed (server ${server}, client ${offer})`);
    return;
  }
  if (!deflate) fail(`${label}: permessage-deflate not agreed (server on, client offers)`);
  const { params } = deflate;
  if (params.server_no_context_takeover !== true || params.client_no_context_takeover !== true) {
    fail(`${label}: agreed ${JSON.stringify(params)}, expected no context takeover either way`);
  }
}

async function run() {
  const a = await client('A');
  const b = await client('B');
  const c = await client('C');
  for (const [socket, label] of [[a, 'A'], [b, 'B'], [c, 'C']]) checkNegotiation(socket, label);

  for (const size of SIZES) {
    const text = patternText(size);
    const value = { size, text };
    const back = next(a, 'message-back', `message-back of ${size} bytes`);
    a.emit('message', value);
    expectEqual(await back, [value], `message-back of ${size} bytes`);

    const binary = patternBuffer(size);
    const reply = await withDeadline(
      new Promise((resolve) => a.emit('message-with-ack', binary, text, (...args) => resolve(args))),
      `the ack of ${size} bytes`,
    );
    expectEqual(reply, [binary, text], `the ack of ${size} bytes`);

    const event = `news-${TAG}`;
    const atB = next(b, event, `B's broadcast of ${size} bytes`);
    const atC = next(c, event, `C's broadcast of ${size} bytes`);
    a.emit('broadcast', event, value, binary);
    expectEqual(await atB, [value, binary], `B's broadcast of ${size} bytes`);
    expectEqual(await atC, [value, binary], `C's broadcast of ${size} bytes`);
  }

  // The bytes on the wire for a JSON chat payload of 500 KB, each way.
  const lines = [];
  for (let i = 0, length = 0; length < 500_000; i++) {
    const line = { user: `user${i % 17}`, text: `message number ${i} in the room`, at: 1_700_000_000 + i };
    lines.push(line);
    length += JSON.stringify(line).length + 1;
  }
  const payloadSize = Buffer.byteLength(JSON.stringify(lines));
  const tcp = wsOf(a)._socket;
  const [read0, written0] = [tcp.bytesRead, tcp.bytesWritten];
  const back = next(a, 'message-back', 'the chat payload back');
  a.emit('message', lines);
  expectEqual(await back, [lines], 'the chat payload back');
  const read = tcp.bytesRead - read0;
  const written = tcp.bytesWritten - written0;
  console.log(`chat payload ${payloadSize} bytes: ${written} written, ${read} read (server ${server}, client ${offer})`);
  if (AGREED) {
    if (written > payloadSize / 5 || read > payloadSize / 5) fail('compression agreed, yet the payload was not compressed');
  } else if (written < payloadSize || read < payloadSize) {
    fail('compression not agreed, yet the payload took fewer bytes than its size');
  }
}

const watchdog = setTimeout(() => {
  console.log(`FAIL deflate: the run did not finish within ${OVERALL_DEADLINE_MS} ms`);
  process.exit(1);
}, OVERALL_DEADLINE_MS);
watchdog.unref();

try {
  await run();
  console.log('ok deflate');
} catch (err) {
  console.log(err instanceof Failure ? `FAIL deflate: ${err.message}` : `FAIL deflate: ${err?.stack ?? err}`);
  process.exit(1);
} finally {
  for (const socket of sockets) socket.close();
}
setTimeout(() => process.exit(0), 2_000).unref();
