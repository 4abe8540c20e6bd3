#!/usr/bin/env node
// Interop checks: the official `engine.io-client` against an Engine.IO v4 echo server.
//
// Usage: node engine-client.mjs <scenario> <baseUrl>
//   e.g. node engine-client.mjs polling http://127.0.0.1:3000
//
// The server under test must serve Engine.IO protocol 4 at /engine.io/ with
// pingInterval 1000 ms, pingTimeout 1000 ms, maxHttpBufferSize 1,000,000, and echo
// every message unchanged (text as text, binary as binary).
//
// Scenarios: polling, websocket, upgrade, large, ping-timeout, all.
// Exit status 0 and a final line "ok <scenario>" on success; otherwise a
// "FAIL ..." line and exit status 1. Every wait is bounded by a deadline.

import { Socket } from 'engine.io-client';

const ENGINE_PATH = '/engine.io/';
// The heartbeat is short, to keep the ping-timeout scenario quick, with room
// for a machine that stalls for most of a second now and then (a busy VM): the
// server must close a silent client within pingInterval of its deadline, and
// a healthy client's pong may take up to pingTimeout.
const EXPECTED_HANDSHAKE = { pingInterval: 1000, pingTimeout: 1000, maxPayload: 1_000_000 };
const WAIT_MS = 5_000; // default deadline for one step
const OVERALL_DEADLINE_MS = 90_000; // the whole run, as a last resort

class Failure extends Error {}

function fail(message) {
  throw new Failure(message);
}

function log(line) {
  console.log(line);
}

// ---------------------------------------------------------------------------
// Small helpers

/** Normalises a received or sent payload: strings stay strings, binary becomes a Uint8Array. */
function normalise(data) {
  // engine.io-client hands over an empty text message (packet "4") as `undefined`.
  if (data === undefined) return '';
  if (typeof data === 'string') return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  fail(`received a payload of unexpected type ${Object.prototype.toString.call(data)}`);
}

function describe(data) {
  const value = normalise(data);
  if (typeof value === 'string') {
    return value.length > 60
      ? `text(${value.length} chars, starts ${JSON.stringify(value.slice(0, 20))})`
      : `text ${JSON.stringify(value)}`;
  }
  const shown = Array.from(value.subarray(0, 16)).join(',');
  return `binary(${value.length} bytes: [${shown}${value.length > 16 ? ',...' : ''}])`;
}

function samePayload(a, b) {
  const x = normalise(a);
  const y = normalise(b);
  if (typeof x === 'string' || typeof y === 'string') return x === y;
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Deterministic, non-uniform text of the given length (so corruption or reordering shows). */
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

// ---------------------------------------------------------------------------
// A client wrapper: one engine.io-client Socket plus an inbox and bounded waits.

const liveClients = new Set();

class Client {
  constructor(baseUrl, label, options = {}) {
    this.label = label;
    this.inbox = [];
    this.waiters = new Set();
    this.closeInfo = null;
    this.handshake = null;
    this.isOpen = false;
    this.pings = 0;

    this.socket = new Socket(baseUrl, { path: ENGINE_PATH, ...options });
    liveClients.add(this);

    this.socket.on('handshake', (data) => {
      this.handshake = data;
    });
    this.socket.on('ping', () => {
      this.pings += 1;
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

  /**
   * Waits until `check()` returns something other than undefined, re-checking
   * after every message or close. Fails after `ms` milliseconds, and fails at
   * once if the socket closes (unless `allowClosed`).
   */
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
      timer = setTimeout(() => {
        finish(reject, new Failure(`${this.label}: no ${what} within ${ms} ms`));
      }, ms);
      this.waiters.add(poll);
      poll();
    });
  }

  /** Resolves once the socket is open; checks the handshake the server sent. */
  async opened(ms = WAIT_MS) {
    await this.waitUntil('open event', () => (this.isOpen ? true : undefined), { ms });
    this.checkHandshake();
  }

  checkHandshake() {
    const hs = this.handshake;
    if (!hs) fail(`${this.label}: no handshake data`);
    const keys = Object.keys(hs).sort().join(',');
    if (keys !== 'maxPayload,pingInterval,pingTimeout,sid,upgrades') {
      fail(`${this.label}: handshake keys are ${keys}, expected maxPayload,pingInterval,pingTimeout,sid,upgrades`);
    }
    for (const [key, value] of Object.entries(EXPECTED_HANDSHAKE)) {
      if (hs[key] !== value) fail(`${this.label}: handshake ${key} is ${JSON.stringify(hs[key])}, expected ${value}`);
    }
    if (typeof hs.sid !== 'string' || hs.sid.length === 0) fail(`${this.label}: handshake sid is ${JSON.stringify(hs.sid)}`);
    const expectedUpgrades = this.socket.transport.name === 'websocket' ? '[]' : '["websocket"]';
    if (JSON.stringify(hs.upgrades) !== expectedUpgrades) {
      fail(`${this.label}: handshake upgrades is ${JSON.stringify(hs.upgrades)} on ${this.socket.transport.name}, expected ${expectedUpgrades}`);
    }
  }

  send(data) {
    this.socket.send(data);
  }

  nextMessage(what, ms = WAIT_MS) {
    // Wrapped, because a received message may itself be `undefined` (empty text).
    return this.waitUntil(what, () => (this.inbox.length > 0 ? { data: this.inbox.shift() } : undefined), { ms })
      .then(({ data }) => data);
  }

  async expectEcho(sent, what, ms = WAIT_MS) {
    const got = await this.nextMessage(`echo of ${what}`, ms);
    if (!samePayload(got, sent)) {
      fail(`${this.label}: echo of ${what} differs: sent ${describe(sent)}, got ${describe(got)}`);
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
    // `description` is an Error (TransportError, whose own `description` may hold
    // the underlying error or HTTP status) or a plain { description, context }.
    const parts = [];
    for (const item of [description, description?.description]) {
      if (item === undefined || item === null) continue;
      if (typeof item !== 'object') parts.push(String(item));
      else if (item.message) parts.push(item.code ? `${item.message} [${item.code}]` : item.message);
      else if (item.type) parts.push(`${item.type} event`);
    }
    return parts.length ? `"${reason}" (${parts.join(': ')})` : `"${reason}"`;
  }

  close() {
    if (!this.closeInfo) this.socket.close();
  }
}

// ---------------------------------------------------------------------------
// Checks shared by several scenarios

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

  client.send('');
  await client.expectEcho('', 'empty text');

  // A burst of 20, sent in one go; every fifth one is binary.
  const burst = [];
  for (let i = 0; i < 20; i++) {
    burst.push(i % 5 === 4 ? new Uint8Array([i, 255 - i, 0, i]) : `burst-${i}`);
  }
  for (const message of burst) client.send(message);
  for (let i = 0; i < burst.length; i++) {
    await client.expectEcho(burst[i], `burst message #${i} (${describe(burst[i])})`);
  }
  log(`${client.label}: echo of text, non-ASCII text, binary, empty text and an ordered burst of 20: ok`);
}

/**
 * After a server-side close, the session must be gone: a polling GET with the
 * old sid answers 400 with error code 1 ("Session ID unknown").
 */
async function expectSessionGone(baseUrl, sid, label) {
  const url = new URL(ENGINE_PATH, baseUrl);
  url.searchParams.set('EIO', '4');
  url.searchParams.set('transport', 'polling');
  url.searchParams.set('sid', sid);
  const response = await fetch(url, { signal: AbortSignal.timeout(WAIT_MS) });
  const body = await response.text();
  let parsed = null;
  try {
    parsed = JSON.parse(body);
  } catch {
    // reported below
  }
  if (response.status !== 400 || parsed?.code !== 1) {
    fail(`${label}: after the close, GET with the old sid answered ${response.status} ${JSON.stringify(body.slice(0, 200))}; expected 400 with code 1 (session unknown)`);
  }
}

// ---------------------------------------------------------------------------
// Scenarios

async function scenarioSingleTransport(baseUrl, transport) {
  const client = new Client(baseUrl, transport, { transports: [transport] });
  await client.opened();
  client.expectTransport(transport);
  await checkEcho(client);
  client.expectTransport(transport);
  client.close();
}

async function scenarioUpgrade(baseUrl) {
  const client = new Client(baseUrl, 'upgrade'); // default transports: polling, then websocket
  const { socket } = client;

  let phase = 'polling';
  const sentIn = { polling: 0, upgrading: 0, websocket: 0 };
  socket.on('upgrading', () => {
    phase = 'upgrading';
  });
  let upgraded = false;
  socket.on('upgrade', () => {
    upgraded = true;
    phase = 'websocket';
    client.wake();
  });
  let upgradeError = null;
  socket.on('upgradeError', (err) => {
    upgradeError = err;
    client.wake();
  });

  await client.opened();
  client.expectTransport('polling');

  // A numbered stream, every seventh message binary, sent from the moment the
  // socket opens until a little after the upgrade: nothing may be lost or reordered.
  const sent = [];
  const sendNext = () => {
    const n = sent.length;
    const message = n % 7 === 6 ? new Uint8Array([0xfe, n >> 8, n & 0xff]) : `seq-${n}`;
    sent.push(message);
    sentIn[phase] += 1;
    client.send(message);
  };
  for (let i = 0; i < 5; i++) sendNext();

  const MAX_MESSAGES = 3_000;
  const ticker = setInterval(() => {
    if (sent.length < MAX_MESSAGES) sendNext();
  }, 2);
  try {
    await client.waitUntil('upgrade event', () => {
      if (upgradeError) fail(`upgrade: upgradeError ${upgradeError.message}`);
      return upgraded ? true : undefined;
    });
    // Keep the stream going briefly over the WebSocket.
    const target = sent.length + 10;
    await client.waitUntil('stream to continue after upgrade', () => (sent.length >= target ? true : undefined));
  } finally {
    clearInterval(ticker);
  }
  client.expectTransport('websocket');

  for (let i = 0; i < sent.length; i++) {
    await client.expectEcho(sent[i], `stream message #${i} of ${sent.length}`);
  }
  log(`upgrade: ${sent.length} numbered messages echoed in order (sent ${sentIn.polling} while polling, ${sentIn.upgrading} while upgrading, ${sentIn.websocket} after the upgrade)`);
  if (sentIn.polling === 0 || sentIn.websocket === 0) {
    fail(`upgrade: the stream did not span the upgrade (${JSON.stringify(sentIn)})`);
  }

  await checkEcho(client);
  client.expectTransport('websocket');
  client.close();
}

async function scenarioLarge(baseUrl) {
  const LARGE = 900_000;
  const text = patternText(LARGE);
  await Promise.all(
    ['polling', 'websocket'].map(async (transport) => {
      const client = new Client(baseUrl, `large/${transport}`, { transports: [transport] });
      await client.opened();
      client.send(text);
      const got = await client.nextMessage(`echo of the ${LARGE}-byte message`, 15_000);
      if (typeof got !== 'string') fail(`${client.label}: echo is ${describe(got)}, expected text`);
      if (got.length !== LARGE) fail(`${client.label}: echo has ${got.length} chars, expected ${LARGE}`);
      if (got !== text) {
        let i = 0;
        while (got[i] === text[i]) i++;
        fail(`${client.label}: echo differs from what was sent, first at offset ${i}`);
      }
      client.expectTransport(transport);
      log(`${client.label}: ${LARGE}-byte text message echoed intact`);
      client.close();
    }),
  );
}

/** A client that drops its pongs must be closed by the server. Returns the close reason. */
async function silentClient(baseUrl, transport) {
  const client = new Client(baseUrl, `ping-timeout/${transport}`, { transports: [transport] });
  await client.opened();
  const sid = client.socket.id;
  const openedAt = Date.now();

  // engine.io-client 6.6 answers a ping from Socket#_onPacket with
  // `this._sendPacket("pong")`; shadow that method on this instance so pongs
  // are silently dropped while everything else still goes out.
  const socket = client.socket;
  const originalSendPacket = socket._sendPacket;
  if (typeof originalSendPacket !== 'function') {
    fail(`${client.label}: engine.io-client has no Socket#_sendPacket; update the pong-dropping hook`);
  }
  let droppedPongs = 0;
  let firstIgnoredPingAt = null;
  socket._sendPacket = function dropPongs(type, ...rest) {
    if (type === 'pong') {
      droppedPongs += 1;
      firstIgnoredPingAt ??= Date.now();
      return;
    }
    return originalSendPacket.call(this, type, ...rest);
  };

  const DEADLINE_MS = 5_000;
  let info;
  try {
    info = await client.waitForClose(DEADLINE_MS);
  } catch (err) {
    if (!(err instanceof Failure)) throw err;
    fail(`${client.label}: the server did not close the session within ${DEADLINE_MS} ms although ${droppedPongs} ping(s) went unanswered`);
  }
  if (droppedPongs === 0) fail(`${client.label}: closed ${client.closeText()} before any ping arrived`);
  const since = `${info.at - openedAt} ms after open, ${info.at - firstIgnoredPingAt} ms after the first unanswered ping`;
  log(`${client.label}: closed ${since}, ${droppedPongs} pong(s) withheld; close reason ${client.closeText()}`);
  // Against the reference server the client sees "transport close" on both
  // transports: the server ends the session itself (WebSocket close frame, or a
  // close packet on the pending poll). "ping timeout" here would be the
  // client's own timer, i.e. the server stopped pinging without closing.
  if (info.reason !== 'transport close') {
    fail(`${client.label}: close reason ${client.closeText()}, expected "transport close" (the server closing the session)`);
  }

  await expectSessionGone(baseUrl, sid, client.label);
  log(`${client.label}: server no longer knows session ${sid}: ok`);
  return info.reason;
}

/** A normal client must stay open across several ping intervals. */
async function healthyClient(baseUrl, transport) {
  const WINDOW_MS = 3_500;
  const client = new Client(baseUrl, `heartbeat/${transport}`, { transports: [transport] });
  await client.opened();
  const pingsBefore = client.pings;
  await delay(WINDOW_MS); // the positive-control window
  if (client.closeInfo) fail(`${client.label}: closed ${client.closeText()} within ${WINDOW_MS} ms although pongs were sent`);
  const pings = client.pings - pingsBefore;
  if (pings < 3) fail(`${client.label}: only ${pings} ping(s) from the server in ${WINDOW_MS} ms (pingInterval 1000 ms)`);
  client.send('still here');
  await client.expectEcho('still here', 'text after the heartbeat window');
  client.expectTransport(transport);
  log(`${client.label}: stayed open for ${WINDOW_MS} ms, answered ${pings} pings, echo still works`);
  client.close();
}

async function scenarioPingTimeout(baseUrl) {
  const reasons = {};
  await Promise.all(
    ['websocket', 'polling'].map(async (transport) => {
      reasons[transport] = await silentClient(baseUrl, transport);
    }),
  );
  await Promise.all(['websocket', 'polling'].map((transport) => healthyClient(baseUrl, transport)));
  log(`ping-timeout: close reasons seen by the client: websocket="${reasons.websocket}", polling="${reasons.polling}"`);
}

const SCENARIOS = {
  polling: (baseUrl) => scenarioSingleTransport(baseUrl, 'polling'),
  websocket: (baseUrl) => scenarioSingleTransport(baseUrl, 'websocket'),
  upgrade: scenarioUpgrade,
  large: scenarioLarge,
  'ping-timeout': scenarioPingTimeout,
};

// ---------------------------------------------------------------------------
// Entry point

function usage() {
  console.error(`usage: node engine-client.mjs <${[...Object.keys(SCENARIOS), 'all'].join('|')}> <baseUrl>`);
  console.error('  e.g. node engine-client.mjs polling http://127.0.0.1:3000');
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
    if (err instanceof Failure) {
      console.log(`FAIL ${current}: ${err.message}`);
    } else {
      console.log(`FAIL ${current}: unexpected error`);
      console.log(err?.stack ?? String(err));
    }
    process.exit(1);
  }

  // Close whatever is still open and let the process end on its own; force it
  // if a handle lingers.
  for (const client of liveClients) client.close();
  clearTimeout(watchdog);
  setTimeout(() => {
    console.log('note: forcing exit, a handle was still open after closing every socket');
    process.exit(0);
  }, 2_000).unref();
}

main();
