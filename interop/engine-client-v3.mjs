#!/usr/bin/env node
// Interop checks: the official `engine.io-client` 3.x (Engine.IO protocol 3,
// what socket.io-client 2.x uses) against an Engine.IO echo server that
// accepts protocol 3.
//
// Usage: node engine-client-v3.mjs <scenario> <baseUrl>
//   e.g. node engine-client-v3.mjs polling http://127.0.0.1:3000
//
// The server under test must accept protocol 3 at /engine.io/ with
// pingInterval 1000 ms, pingTimeout 1000 ms, maxHttpBufferSize 1,000,000,
// echo every message unchanged (text as text, binary as binary), and close
// the session of a client that sends the text message "close-me".
//
// Scenarios:
//   polling, websocket, upgrade  the three transport modes: open, text and
//                                binary both ways, an ordered burst, then the
//                                heartbeat (client pings, server pongs, the
//                                session outlives several intervals), then a
//                                server close
//   polling-b64                  polling with forceBase64 (b64=1): binary as
//                                base64 text both ways
//   ping-timeout                 a client that never pings is closed by the
//                                server, on both transports
// Exit status 0 and a final line "ok <scenario>" on success; otherwise a
// "FAIL ..." line and exit status 1. Every wait is bounded by a deadline.

import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const eio = require('socket.io-client-v2/node_modules/engine.io-client');

const ENGINE_PATH = '/engine.io/';
const EXPECTED_HANDSHAKE = { pingInterval: 1000, pingTimeout: 1000 };
const WAIT_MS = 5_000; // default deadline for one step
const OVERALL_DEADLINE_MS = 90_000; // the whole run, as a last resort

class Failure extends Error {}

function fail(message) {
  throw new Failure(message);
}

function log(line) {
  console.log(line);
}

/** Strings stay strings, binary (Buffer, ArrayBuffer, views) becomes a Uint8Array. */
function normalise(data) {
  if (data === undefined) return '';
  if (typeof data === 'string') return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  fail(`received a payload of unexpected type ${Object.prototype.toString.call(data)}`);
}

function describe(data) {
  const value = normalise(data);
  if (typeof value === 'string') return `text ${JSON.stringify(value.slice(0, 60))}`;
  return `binary(${value.length} bytes: [${Array.from(value.subarray(0, 16)).join(',')}])`;
}

function samePayload(a, b) {
  const x = normalise(a);
  const y = normalise(b);
  if (typeof x === 'string' || typeof y === 'string') return x === y;
  return x.length === y.length && x.every((byte, i) => byte === y[i]);
}

function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const liveClients = new Set();

/** One engine.io-client 3.x socket, with an inbox and bounded waits. */
class Client {
  constructor(baseUrl, label, options = {}, { silent = false } = {}) {
    this.label = label;
    this.inbox = [];
    this.waiters = new Set();
    this.closeInfo = null;
    this.handshake = null;
    this.isOpen = false;
    this.pings = 0;
    this.pongs = 0;

    this.socket = eio(baseUrl, { path: ENGINE_PATH, ...options });
    if (silent) {
      // A client that never pings, and never times out on its own: only the
      // server can end its session. Own properties shadow the prototype's
      // before the handshake arrives (which registers `onHeartbeat`).
      this.socket.setPing = () => {};
      this.socket.onHeartbeat = () => {};
    }
    liveClients.add(this);

    this.socket.on('handshake', (data) => {
      this.handshake = data;
    });
    // 3.x emits `ping` once its ping is written, `pong` when the answer comes.
    this.socket.on('ping', () => {
      this.pings += 1;
    });
    this.socket.on('pong', () => {
      this.pongs += 1;
      this.wake();
    });
    this.socket.on('message', (data) => {
      this.inbox.push(data);
      this.wake();
    });
    this.socket.on('open', () => {
      this.isOpen = true;
      this.wake();
    });
    this.socket.on('close', (reason, description) => {
      this.closeInfo = { reason, description, at: Date.now() };
      liveClients.delete(this);
      this.wake();
    });
  }

  wake() {
    for (const waiter of [...this.waiters]) waiter();
  }

  /** Waits until `check()` returns something other than undefined. */
  waitUntil(what, check, { ms = WAIT_MS, allowClosed = false } = {}) {
    return new Promise((resolve, reject) => {
      let timer;
      const finish = (fn, value) => {
        clearTimeout(timer);
        this.waiters.delete(poll);
        fn(value);
      };
      const poll = () => {
        let value;
        try {
          value = check();
        } catch (err) {
          finish(reject, err);
          return;
        }
        if (value !== undefined) {
          finish(resolve, value);
        } else if (this.closeInfo && !allowClosed) {
          finish(reject, new Failure(`${this.label}: socket closed (${this.closeText()}) while waiting for ${what}`));
        }
      };
      timer = setTimeout(() => finish(reject, new Failure(`${this.label}: no ${what} within ${ms} ms`)), ms);
      this.waiters.add(poll);
      poll();
    });
  }

  async opened() {
    await this.waitUntil('open event', () => (this.isOpen ? true : undefined));
    const hs = this.handshake;
    if (!hs) fail(`${this.label}: no handshake data`);
    // Keys and order as engine.io 6.6 sends them to protocol 3 clients.
    const keys = Object.keys(hs).join(',');
    if (keys !== 'sid,upgrades,pingInterval,pingTimeout,maxPayload') {
      fail(`${this.label}: handshake keys are ${keys}`);
    }
    for (const [key, value] of Object.entries(EXPECTED_HANDSHAKE)) {
      if (hs[key] !== value) fail(`${this.label}: handshake ${key} is ${JSON.stringify(hs[key])}, expected ${value}`);
    }
    const expectedUpgrades = this.socket.transport.name === 'websocket' ? '[]' : '["websocket"]';
    if (JSON.stringify(hs.upgrades) !== expectedUpgrades) {
      fail(`${this.label}: handshake upgrades is ${JSON.stringify(hs.upgrades)} on ${this.socket.transport.name}`);
    }
  }

  send(data) {
    this.socket.send(data);
  }

  async expectEcho(sent, what, ms = WAIT_MS) {
    const { data } = await this.waitUntil(
      `echo of ${what}`,
      () => (this.inbox.length > 0 ? { data: this.inbox.shift() } : undefined),
      { ms },
    );
    if (!samePayload(data, sent)) {
      fail(`${this.label}: echo of ${what} differs: sent ${describe(sent)}, got ${describe(data)}`);
    }
  }

  waitForClose(ms) {
    return this.waitUntil('close event', () => this.closeInfo ?? undefined, { ms, allowClosed: true });
  }

  expectTransport(name) {
    const actual = this.socket.transport?.name;
    if (actual !== name) fail(`${this.label}: transport is ${actual}, expected ${name}`);
  }

  closeText() {
    if (!this.closeInfo) return 'not closed';
    const { reason, description } = this.closeInfo;
    const detail = description?.message ?? description?.description ?? description;
    return detail === undefined ? `"${reason}"` : `"${reason}" (${String(detail)})`;
  }

  close() {
    if (!this.closeInfo) this.socket.close();
  }
}

/** Text, non-ASCII text, binary, an empty message and an ordered burst of 20. */
async function checkEcho(client) {
  client.send('hello');
  await client.expectEcho('hello', 'text "hello"');

  const unicode = 'héllo wörld ✓ 😀';
  client.send(unicode);
  await client.expectEcho(unicode, 'non-ASCII text');

  const bytes = new Uint8Array([1, 2, 3, 255]);
  client.send(bytes);
  await client.expectEcho(bytes, 'binary [1,2,3,255]');

  client.send(new Uint8Array(0));
  await client.expectEcho(new Uint8Array(0), 'empty binary');

  client.send('');
  await client.expectEcho('', 'empty text');

  const burst = [];
  for (let i = 0; i < 20; i++) burst.push(i % 5 === 4 ? new Uint8Array([i, 255 - i, 0, i]) : `burst-${i}-é`);
  for (const message of burst) client.send(message);
  for (let i = 0; i < burst.length; i++) await client.expectEcho(burst[i], `burst message #${i}`);
  log(`${client.label}: text, non-ASCII text, binary, empty messages and an ordered burst of 20 echoed`);
}

/** The client pings every interval, the server answers each, the session lives on. */
async function checkHeartbeat(client) {
  const WINDOW_MS = 3_500;
  const pongsBefore = client.pongs;
  await delay(WINDOW_MS);
  if (client.closeInfo) fail(`${client.label}: closed ${client.closeText()} within ${WINDOW_MS} ms although it pinged`);
  const pongs = client.pongs - pongsBefore;
  if (pongs < 3) fail(`${client.label}: only ${pongs} pong(s) from the server in ${WINDOW_MS} ms (pingInterval 1000 ms)`);
  client.send('still here');
  await client.expectEcho('still here', 'text after the heartbeat window');
  log(`${client.label}: stayed open for ${WINDOW_MS} ms, ${client.pings} pings sent and ${client.pongs} pongs received`);
}

/** Asks the server to close the session, and checks it did. */
async function checkServerClose(baseUrl, client) {
  const sid = client.socket.id;
  client.send('close-me');
  const info = await client.waitForClose(WAIT_MS);
  if (info.reason !== 'transport close') fail(`${client.label}: closed ${client.closeText()}, expected "transport close"`);
  await expectSessionGone(baseUrl, sid, client.label);
  log(`${client.label}: closed by the server (${client.closeText()}), session ${sid} gone`);
}

/** After a close, a protocol 3 poll with the old sid answers 400, code 1. */
async function expectSessionGone(baseUrl, sid, label) {
  const url = new URL(ENGINE_PATH, baseUrl);
  url.searchParams.set('EIO', '3');
  url.searchParams.set('transport', 'polling');
  url.searchParams.set('sid', sid);
  const response = await fetch(url, { signal: AbortSignal.timeout(WAIT_MS) });
  const body = await response.text();
  let code = null;
  try {
    code = JSON.parse(body).code;
  } catch {
    // reported below
  }
  if (response.status !== 400 || code !== 1) {
    fail(`${label}: after the close, a poll with the old sid answered ${response.status} ${JSON.stringify(body.slice(0, 200))}`);
  }
}

async function scenarioSingleTransport(baseUrl, transport, options = {}) {
  const client = new Client(baseUrl, transport, { transports: [transport], ...options });
  await client.opened();
  client.expectTransport(transport);
  await checkEcho(client);
  await checkHeartbeat(client);
  client.expectTransport(transport);
  await checkServerClose(baseUrl, client);
}

async function scenarioUpgrade(baseUrl) {
  const client = new Client(baseUrl, 'upgrade'); // polling, then websocket
  const { socket } = client;
  let phase = 'polling';
  const sentIn = { polling: 0, upgrading: 0, websocket: 0 };
  let upgraded = false;
  let upgradeError = null;
  socket.on('upgrading', () => {
    phase = 'upgrading';
  });
  socket.on('upgrade', () => {
    upgraded = true;
    phase = 'websocket';
    client.wake();
  });
  socket.on('upgradeError', (err) => {
    upgradeError = err;
    client.wake();
  });

  await client.opened();
  client.expectTransport('polling');

  // A numbered stream, every seventh message binary, from the open until a
  // little after the upgrade: nothing may be lost or reordered.
  const sent = [];
  const sendNext = () => {
    const n = sent.length;
    const message = n % 7 === 6 ? new Uint8Array([0xfe, n >> 8, n & 0xff]) : `seq-${n}`;
    sent.push(message);
    sentIn[phase] += 1;
    client.send(message);
  };
  for (let i = 0; i < 5; i++) sendNext();
  const ticker = setInterval(() => {
    if (sent.length < 3_000) sendNext();
  }, 2);
  try {
    await client.waitUntil('upgrade event', () => {
      if (upgradeError) fail(`upgrade: upgradeError ${upgradeError.message ?? upgradeError}`);
      return upgraded ? true : undefined;
    });
    const target = sent.length + 10;
    await client.waitUntil('stream to go on after the upgrade', () => (sent.length >= target ? true : undefined));
  } finally {
    clearInterval(ticker);
  }
  client.expectTransport('websocket');
  for (let i = 0; i < sent.length; i++) await client.expectEcho(sent[i], `stream message #${i} of ${sent.length}`);
  log(`upgrade: ${sent.length} numbered messages echoed in order (${JSON.stringify(sentIn)})`);
  if (sentIn.polling === 0 || sentIn.websocket === 0) fail(`upgrade: the stream did not span the upgrade (${JSON.stringify(sentIn)})`);

  await checkEcho(client);
  await checkHeartbeat(client);
  client.expectTransport('websocket');
  await checkServerClose(baseUrl, client);
}

/** A client that never pings must be closed by the server after pingInterval + pingTimeout. */
async function silentClient(baseUrl, transport) {
  const client = new Client(baseUrl, `ping-timeout/${transport}`, { transports: [transport] }, { silent: true });
  await client.opened();
  const sid = client.socket.id;
  const openedAt = Date.now();
  const info = await client.waitForClose(6_000);
  const after = info.at - openedAt;
  if (client.pings !== 0) fail(`${client.label}: the client pinged ${client.pings} time(s)`);
  if (info.reason !== 'transport close') fail(`${client.label}: closed ${client.closeText()}, expected "transport close"`);
  // pingInterval + pingTimeout = 2000 ms, with room for a slow machine.
  if (after < 1_500) fail(`${client.label}: closed ${after} ms after the open, before pingInterval + pingTimeout`);
  await expectSessionGone(baseUrl, sid, client.label);
  log(`${client.label}: closed by the server ${after} ms after the open, session gone`);
}

async function scenarioPingTimeout(baseUrl) {
  await Promise.all(['websocket', 'polling'].map((transport) => silentClient(baseUrl, transport)));
}

const SCENARIOS = {
  polling: (baseUrl) => scenarioSingleTransport(baseUrl, 'polling'),
  'polling-b64': (baseUrl) => scenarioSingleTransport(baseUrl, 'polling', { forceBase64: true }),
  websocket: (baseUrl) => scenarioSingleTransport(baseUrl, 'websocket'),
  upgrade: scenarioUpgrade,
  'ping-timeout': scenarioPingTimeout,
};

function usage() {
  console.error(`usage: node engine-client-v3.mjs <${[...Object.keys(SCENARIOS), 'all'].join('|')}> <baseUrl>`);
  process.exit(2);
}

async function main() {
  const [scenario, baseUrl] = process.argv.slice(2);
  if (!scenario || !baseUrl) usage();
  if (scenario !== 'all' && !(scenario in SCENARIOS)) usage();
  if (!/^https?:\/\//.test(baseUrl)) usage();

  const watchdog = setTimeout(() => {
    console.log(`FAIL ${scenario}: the run did not finish within ${OVERALL_DEADLINE_MS} ms`);
    process.exit(1);
  }, OVERALL_DEADLINE_MS);
  watchdog.unref();

  const names = scenario === 'all' ? Object.keys(SCENARIOS) : [scenario];
  let current = scenario;
  try {
    for (const name of names) {
      current = name;
      const started = Date.now();
      await SCENARIOS[name](baseUrl);
      log(`${name}: finished in ${Date.now() - started} ms`);
      log(`ok ${name}`);
    }
    if (scenario === 'all') log('ok all');
  } catch (err) {
    console.log(err instanceof Failure ? `FAIL ${current}: ${err.message}` : `FAIL ${current}: ${err?.stack ?? err}`);
    process.exit(1);
  }

  for (const client of liveClients) client.close();
  clearTimeout(watchdog);
  setTimeout(() => {
    console.log('note: forcing exit, a handle was still open after closing every socket');
    process.exit(0);
  }, 2_000).unref();
}

main();
