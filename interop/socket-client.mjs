#!/usr/bin/env node
// Interop checks: the official `socket.io-client` (4.8.4) against a Socket.IO
// server that implements the "interop test protocol" (see README.md and
// ref-socket-server.mjs, the reference implementation on the official server).
//
// Usage: node socket-client.mjs <scenario> <polling|websocket|upgrade> <baseUrl> [json|msgpack]
//   e.g. node socket-client.mjs all upgrade http://127.0.0.1:3000
//
// The last argument picks the client's parser: the default one (json), or
// socket.io-msgpack-parser 3.0.2 (msgpack); the server must use the same.
//
// Transport modes: polling = transports ['polling'], websocket = transports
// ['websocket'], upgrade = the default (polling, then upgrade to WebSocket; the
// checks wait for the upgrade and the transport must be websocket at the end).
//
// Scenarios: connect, namespaces, events, acks, binary, rooms, connect-error,
// server-disconnect, reconnect, all.
// Exit status 0 and a final line "ok <scenario>" on success; otherwise a
// "FAIL <scenario>: <reason>" line and exit status 1; a usage error exits with 2.
// Every wait is bounded by a deadline, and a watchdog limits the whole run.

import { io, Manager } from 'socket.io-client';
import msgpackParser from 'socket.io-msgpack-parser';
import { isDeepStrictEqual, inspect } from 'node:util';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const SOCKET_PATH = '/socket.io/';
const WAIT_MS = 5_000; // default deadline for one step
const OVERALL_DEADLINE_MS = 60_000; // the whole run, as a last resort
const MODES = ['polling', 'websocket', 'upgrade'];

// Room and broadcast event names carry a per-run tag, so that several runs
// against one server at the same time cannot see each other's broadcasts.
const TAG = Math.random().toString(36).slice(2, 8);

let MODE = 'polling';
let BASE_URL = '';
let PARSER = {}; // extra client options for the chosen parser

class Failure extends Error {}

// An unexpected disconnect with one of these reasons can be a missed heartbeat
// (the test server's pingTimeout is 2 s), e.g. on an overloaded machine; the failure
// message then reports how long this process's event loop was stalled.
const HEARTBEAT_REASONS = new Set(['ping timeout', 'transport close', 'transport error']);
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();

function heartbeatHint() {
  const maxMs = Math.round(loopDelay.max / 1e6);
  return ` (possibly a missed heartbeat: pingInterval 1000 ms + pingTimeout 2000 ms; this process's event loop stalled for up to ${maxMs} ms so far)`;
}

function fail(message) {
  throw new Failure(message);
}

function log(line) {
  console.log(line);
}

function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------------------
// Values: binary normalisation, comparison, description

/** Binary values of any kind become Buffers, recursively; everything else is kept. */
function norm(value) {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof ArrayBuffer) return Buffer.from(value);
  if (ArrayBuffer.isView(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (Array.isArray(value)) return value.map(norm);
  if (value !== null && typeof value === 'object') {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = norm(v);
    return out;
  }
  return value;
}

function show(value) {
  return inspect(value, { depth: 6, maxArrayLength: 12, maxStringLength: 80, breakLength: Infinity });
}

function expectEqual(actual, expected, what) {
  if (!isDeepStrictEqual(norm(actual), norm(expected))) {
    fail(`${what}: got ${show(actual)}, expected ${show(expected)}`);
  }
}

/** Deterministic, non-uniform bytes (so corruption or truncation shows). */
function patternBuffer(length) {
  const out = Buffer.alloc(length);
  let state = 7;
  for (let i = 0; i < length; i++) {
    state = (state * 31 + 11) % 1009;
    out[i] = state & 0xff;
  }
  return out;
}

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
// Waiting: one global set of waiters, woken by every event any client sees.

const waiters = new Set();

function wakeAll() {
  for (const waiter of [...waiters]) waiter();
}

/**
 * Waits until `check()` returns something other than undefined, re-checking
 * after every event. `check` may throw a Failure to stop at once.
 */
function waitFor(what, check, ms = WAIT_MS) {
  return new Promise((resolve, reject) => {
    let timer;
    const finish = (fn, value) => {
      clearTimeout(timer);
      waiters.delete(poll);
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
      if (value !== undefined) finish(resolve, value);
    };
    timer = setTimeout(() => finish(reject, new Failure(`no ${what} within ${ms} ms`)), ms);
    waiters.add(poll);
    poll();
  });
}

/** A promise with a deadline. */
function withDeadline(promise, what, ms = WAIT_MS) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Failure(`no ${what} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// ---------------------------------------------------------------------------
// Client options per transport mode

function transportOptions() {
  if (MODE === 'polling') return { transports: ['polling'] };
  if (MODE === 'websocket') return { transports: ['websocket'] };
  return {}; // upgrade: the default, polling then WebSocket
}

/** Options for io(): an independent connection with short reconnection delays. */
function options(extra = {}) {
  return {
    path: SOCKET_PATH,
    forceNew: true,
    reconnectionDelay: 100,
    reconnectionDelayMax: 200,
    timeout: WAIT_MS, // the client's own connect timeout
    ...transportOptions(),
    ...PARSER,
    ...extra,
  };
}

/** Options for new Manager(). */
function managerOptions(extra = {}) {
  const { forceNew, ...rest } = options(extra);
  return rest;
}

function expectedTransport() {
  return MODE === 'polling' ? 'polling' : 'websocket';
}

// Engine-level bookkeeping per Manager: upgrade errors, so upgrade waits fail fast.
const hookedManagers = new WeakSet();
const hookedEngines = new WeakSet();

function hookManager(manager) {
  if (hookedManagers.has(manager)) return;
  hookedManagers.add(manager);
  manager.upgradeErrors = [];
  manager.reconnects = 0;
  manager.reconnectAttempts = 0;
  const hookEngine = () => {
    const engine = manager.engine;
    if (!engine || hookedEngines.has(engine)) return;
    hookedEngines.add(engine);
    engine.on('upgrade', wakeAll);
    engine.on('upgradeError', (err) => {
      manager.upgradeErrors.push(err);
      wakeAll();
    });
    engine.on('close', wakeAll);
  };
  hookEngine(); // the first engine is created by the constructor
  manager.on('open', () => {
    hookEngine();
    wakeAll();
  });
  manager.on('reconnect_attempt', () => {
    hookEngine();
    manager.reconnectAttempts += 1;
    wakeAll();
  });
  manager.on('reconnect', () => {
    manager.reconnects += 1;
    wakeAll();
  });
  manager.on('close', wakeAll);
}

// ---------------------------------------------------------------------------
// A client wrapper: one socket.io-client Socket plus an inbox and bounded waits.

const liveClients = new Set();

class Client {
  constructor(label, socket) {
    this.label = label;
    this.socket = socket;
    this.manager = socket.io;
    this.inbox = []; // { event, args }
    this.connects = []; // socket id at each `connect`
    this.disconnects = []; // { reason, description }
    this.connectErrors = [];
    this.seenDisconnects = 0; // disconnects a scenario has waited for
    this.seenConnectErrors = 0;
    hookManager(this.manager);
    liveClients.add(this);

    socket.onAny((event, ...args) => {
      this.inbox.push({ event, args });
      wakeAll();
    });
    socket.on('connect', () => {
      this.connects.push(socket.id);
      wakeAll();
    });
    socket.on('disconnect', (reason, description) => {
      this.disconnects.push({ reason, description });
      wakeAll();
    });
    socket.on('connect_error', (err) => {
      this.connectErrors.push(err);
      wakeAll();
    });
  }

  get id() {
    return this.socket.id;
  }

  get engine() {
    return this.manager.engine;
  }

  /** Fails at once on a disconnect or connect_error that the scenario did not wait for. */
  guard(what) {
    if (this.disconnects.length > this.seenDisconnects) {
      const { reason } = this.disconnects[this.seenDisconnects];
      fail(`${this.label}: disconnected ("${reason}") while waiting for ${what}${HEARTBEAT_REASONS.has(reason) ? heartbeatHint() : ''}`);
    }
    if (this.connectErrors.length > this.seenConnectErrors) {
      const err = this.connectErrors[this.seenConnectErrors];
      fail(`${this.label}: connect_error "${err.message}" while waiting for ${what}`);
    }
  }

  wait(what, check, ms = WAIT_MS) {
    return waitFor(`${what} (${this.label})`, () => {
      const value = check();
      if (value !== undefined) return value;
      this.guard(what);
      return undefined;
    }, ms);
  }

  /** Waits for the n-th `connect` event (1 = the first); returns the socket id. */
  async connected(n = 1, ms = WAIT_MS) {
    const id = await this.wait(`connect event #${n}`, () => this.connects[n - 1], ms);
    if (typeof id !== 'string' || id.length !== 20) fail(`${this.label}: socket id ${show(id)} is not a 20-character string`);
    return id;
  }

  /** Removes and returns the args of the first inbox entry for `event`. */
  next(event, ms = WAIT_MS) {
    return this.wait(`"${event}" event`, () => {
      const i = this.inbox.findIndex((entry) => entry.event === event);
      if (i < 0) return undefined;
      return this.inbox.splice(i, 1)[0].args;
    }, ms);
  }

  async expectEvent(event, expectedArgs, what, ms = WAIT_MS) {
    const args = await this.next(event, ms);
    expectEqual(args, expectedArgs, `${this.label}: ${what}`);
  }

  /** Removes every inbox entry for `event`; returns their args lists. */
  drain(event) {
    const taken = this.inbox.filter((entry) => entry.event === event).map((entry) => entry.args);
    this.inbox = this.inbox.filter((entry) => entry.event !== event);
    return taken;
  }

  async nextDisconnect(ms = WAIT_MS) {
    const index = this.seenDisconnects;
    const info = await waitFor(`disconnect event (${this.label})`, () => this.disconnects[index], ms);
    this.seenDisconnects += 1;
    return info;
  }

  async nextConnectError(ms = WAIT_MS) {
    const index = this.seenConnectErrors;
    const err = await waitFor(`connect_error event (${this.label})`, () => {
      if (this.connects.length > 0 && this.socket.connected) fail(`${this.label}: connected (id ${this.id}) instead of a connect_error`);
      return this.connectErrors[index];
    }, ms);
    this.seenConnectErrors += 1;
    return err;
  }

  /** In upgrade mode, waits until the current engine has upgraded to WebSocket. */
  async upgraded(ms = WAIT_MS) {
    if (MODE !== 'upgrade') return;
    await this.wait('engine upgrade to websocket', () => {
      if (this.manager.upgradeErrors.length) {
        const err = this.manager.upgradeErrors[0];
        fail(`${this.label}: upgradeError ${err?.message ?? err}${err?.description?.message ? ` (${err.description.message})` : ''}`);
      }
      return this.engine?.transport?.name === 'websocket' ? true : undefined;
    }, ms);
  }

  expectTransport() {
    const actual = this.engine?.transport?.name;
    if (actual !== expectedTransport()) fail(`${this.label}: transport is ${actual}, expected ${expectedTransport()} (mode ${MODE})`);
  }

  emit(event, ...args) {
    this.socket.emit(event, ...args);
  }

  /** emit with a callback ack; resolves with every ack argument. */
  emitAck(event, ...args) {
    return withDeadline(
      new Promise((resolve) => this.socket.emit(event, ...args, (...reply) => resolve(reply))),
      `ack for "${event}" (${this.label})`,
    );
  }

  /** Round trip of `message` → `message-back`: proves the socket still works. */
  async roundTrip(text) {
    this.emit('message', text);
    await this.expectEvent('message-back', [text], `message-back for ${JSON.stringify(text)}`);
  }

  close() {
    liveClients.delete(this);
    if (this.socket.active || this.socket.connected) this.socket.disconnect();
  }
}

function closeAll() {
  for (const client of [...liveClients]) client.close();
}

function newClient(label, extra = {}, namespace = '/') {
  const url = namespace === '/' ? BASE_URL : new URL(namespace, BASE_URL).href;
  return new Client(label, io(url, options(extra)));
}

// ---------------------------------------------------------------------------
// Scenarios

async function scenarioConnect() {
  const a = newClient('connect/auth', { auth: { token: 'abc' } });
  const b = newClient('connect/no-auth');
  const idA = await a.connected();
  const idB = await b.connected();
  await a.expectEvent('auth', [{ token: 'abc' }], 'auth event (handshake.auth)');
  await b.expectEvent('auth', [{}], 'auth event without auth (handshake.auth defaults to {})');

  const engineA = a.engine.id;
  if (typeof engineA !== 'string' || engineA.length === 0) fail(`connect: engine id is ${show(engineA)}`);
  if (idA === engineA) fail(`connect: socket id ${idA} equals the engine id; it must be a separate random id`);
  if (idA === idB) fail(`connect: two clients got the same socket id ${idA}`);
  if (engineA === b.engine.id) fail(`connect: two independent clients share engine id ${engineA}`);
  if (a.socket.recovered) fail('connect: socket.recovered is true on a first connection');
  log(`connect: socket id ${idA} (20 chars), engine id ${engineA}, transport ${a.engine.transport.name}`);

  await a.upgraded();
  await b.upgraded();
  await a.roundTrip('hello after connect');
  await b.roundTrip('hello after connect');
  if (a.id !== idA) fail(`connect: socket id changed from ${idA} to ${a.id} without a reconnection`);
  if (a.engine.id !== engineA) fail(`connect: engine id changed from ${engineA} to ${a.engine.id} (upgrade must keep it)`);
  a.expectTransport();
  b.expectTransport();
}

async function scenarioNamespaces() {
  const manager = new Manager(BASE_URL, managerOptions());
  const root = new Client('namespaces /', manager.socket('/'));
  const custom = new Client('namespaces /custom', manager.socket('/custom', { auth: { ns: 'custom' } }));
  const rootId = await root.connected();
  const customId = await custom.connected();
  await root.expectEvent('auth', [{}], 'auth event');
  await custom.expectEvent('auth', [{ ns: 'custom' }], 'auth event');
  if (rootId === customId) fail(`namespaces: "/" and "/custom" got the same socket id ${rootId}`);
  const engineId = manager.engine.id;
  if (root.engine.id !== custom.engine.id) fail('namespaces: the two namespaces are not on one engine connection');
  await root.upgraded();

  // Events on both, each answered in its own namespace only.
  root.emit('message', 'to root');
  custom.emit('message', 'to custom', 2);
  await root.expectEvent('message-back', ['to root'], 'message-back in "/"');
  await custom.expectEvent('message-back', ['to custom', 2], 'message-back in "/custom"');
  expectEqual(await custom.emitAck('message-with-ack', 'c', 3, { x: [1] }), ['c', 3, { x: [1] }], 'namespaces /custom: message-with-ack reply');
  expectEqual(await root.emitAck('message-with-ack', 'r'), ['r'], 'namespaces /: message-with-ack reply');
  for (const client of [root, custom]) {
    const stray = client.drain('message-back');
    if (stray.length) fail(`${client.label}: unexpected extra message-back ${show(stray)} (sent to the wrong namespace?)`);
  }
  log(`namespaces: "/" (${rootId}) and "/custom" (${customId}) share engine ${engineId}; events and acks work on both`);

  // Leaving /custom keeps / (and the engine connection) working.
  custom.socket.disconnect();
  const { reason } = await custom.nextDisconnect();
  if (reason !== 'io client disconnect') fail(`namespaces /custom: disconnect reason "${reason}", expected "io client disconnect"`);
  await root.roundTrip('root after /custom left');
  expectEqual(await root.emitAck('message-with-ack', 'still'), ['still'], 'namespaces /: ack after /custom left');
  if (manager.engine.id !== engineId || manager.engine.readyState !== 'open') {
    fail(`namespaces: the engine connection did not survive leaving /custom (engine ${manager.engine.id}, state ${manager.engine.readyState})`);
  }
  if (!root.socket.connected) fail('namespaces /: no longer connected after /custom left');

  // /custom can join again on the same engine connection, with a new socket id.
  custom.socket.connect();
  const customId2 = await custom.connected(2);
  if (customId2 === customId) fail(`namespaces /custom: reconnecting reused the socket id ${customId}`);
  await custom.expectEvent('auth', [{ ns: 'custom' }], 'auth event after joining again');
  await custom.roundTrip('custom again');
  await root.roundTrip('root still');
  if (manager.engine.id !== engineId) fail(`namespaces: joining /custom again opened a new engine connection (${manager.engine.id}, was ${engineId})`);
  log('namespaces: leaving /custom kept "/" working; /custom joined again on the same engine connection');
  root.expectTransport();
}

async function scenarioEvents() {
  const c = newClient('events');
  await c.connected();
  await c.next('auth');
  await c.upgraded();

  const cases = [
    ['one string', ['hello']],
    ['several types', ['string', 42, 3.25, -7, 0, true, false, null, { a: 1, b: { c: [1, 2, { d: 'e' }] } }, [1, 'two', null, [3]]]],
    ['unicode', ['héllo wörld ✓ 😀 日本語', { 'ключ': 'значение', emoji: '🎉🎉' }]],
    ['no arguments', []],
    ['empty object, empty array, empty string', [{}, [], '']],
    ['escapes', ['line\nbreak "quoted" \\ back\u0000slash \t tab \u2028 sep', '</script>']],
    // notepack.io (socket.io-msgpack-parser) writes every integer-valued
    // Number as an integer, 1.5e300 modulo 2^64 (0): no server can echo it.
    ['numbers', [Number.MAX_SAFE_INTEGER, -1e-7, PARSER.parser ? 1.5e-300 : 1.5e300, 0.1]],
    ['200,000-char text', [patternText(200_000)]],
  ];
  for (const [what, args] of cases) {
    c.emit('message', ...args);
    await c.expectEvent('message-back', args, `message-back with ${what}`);
  }
  log(`events: ${cases.length} argument lists came back identical`);

  // A burst: order is kept.
  const N = 50;
  for (let i = 0; i < N; i++) c.emit('message', 'burst', i);
  for (let i = 0; i < N; i++) await c.expectEvent('message-back', ['burst', i], `burst message #${i}`);
  log(`events: a burst of ${N} messages came back in order`);
  c.expectTransport();
}

async function scenarioAcks() {
  const c = newClient('acks');
  await c.connected();
  await c.next('auth');
  await c.upgraded();
  const s = c.socket;

  // Client → server acks.
  expectEqual(await withDeadline(s.emitWithAck('message-with-ack', 'hello', 42), 'emitWithAck reply'), 'hello', 'acks: emitWithAck("message-with-ack") result');
  expectEqual(await c.emitAck('message-with-ack', 1, 'two', { three: [3] }, null), [1, 'two', { three: [3] }, null], 'acks: ack callback arguments');
  expectEqual(await c.emitAck('message-with-ack'), [], 'acks: ack with no arguments');
  expectEqual(await s.timeout(2000).emitWithAck('message-with-ack', 'timed'), 'timed', 'acks: timeout(2000).emitWithAck result');
  const many = await withDeadline(
    Promise.all(Array.from({ length: 20 }, (_, i) => s.emitWithAck('message-with-ack', `n${i}`))),
    '20 concurrent acks',
  );
  expectEqual(many, Array.from({ length: 20 }, (_, i) => `n${i}`), 'acks: 20 concurrent acks (each matched to its own id)');
  log('acks: client→server acks (emitWithAck, callback with several args, no args, with timeout, 20 concurrent): ok');

  // Server → client ack.
  s.on(`please-ack-${TAG}`, (arg, ack) => ack({ got: arg, n: 42 }));
  expectEqual(
    await withDeadline(s.emitWithAck('request-ack', `please-ack-${TAG}`, 'hello'), 'request-ack reply'),
    { ok: true, reply: { got: 'hello', n: 42 } },
    'acks: request-ack (server→client ack) reply',
  );
  log('acks: server→client ack: ok');

  // Server-side timeout (client never acks) and client-side timeout (server never
  // acks), at the same time.
  let held = null;
  s.on(`ignore-me-${TAG}`, (arg, ack) => {
    held = { arg, ack };
  });
  const started = Date.now();
  const serverSide = withDeadline(s.emitWithAck('request-ack', `ignore-me-${TAG}`, 'x'), 'request-ack reply for an unanswered ack', 4_000)
    .then((reply) => ({ reply, ms: Date.now() - started }));
  const clientSide = s.timeout(200).emitWithAck('never-answered-event', 'y').then(
    (value) => fail(`acks: emitWithAck("never-answered-event") resolved with ${show(value)}; the server has no handler, it must time out`),
    (err) => ({ err, ms: Date.now() - started }),
  );
  const [server, client] = await Promise.all([serverSide, clientSide]);
  if (!(client.err instanceof Error) || client.err.message !== 'operation has timed out') {
    fail(`acks: client-side timeout rejected with ${show(client.err)}, expected Error "operation has timed out"`);
  }
  if (client.ms < 190 || client.ms > 1_500) fail(`acks: client-side timeout after ${client.ms} ms, expected about 200 ms`);
  expectEqual(server.reply, { ok: false, error: 'operation has timed out' }, 'acks: request-ack reply when the client never acks');
  if (server.ms < 900) fail(`acks: the server timed out after ${server.ms} ms, expected about 1000 ms`);
  if (!held || held.arg !== 'x' || typeof held.ack !== 'function') fail(`acks: the ignored event arrived as ${show(held)}, expected arg "x" and an ack function`);
  log(`acks: client-side timeout after ${client.ms} ms, server-side timeout after ${server.ms} ms: ok`);

  // A late ack (after the server gave up) must be ignored, and the connection keeps working.
  held.ack('late');
  expectEqual(await c.emitAck('message-with-ack', 'after late ack'), ['after late ack'], 'acks: ack after a late ack');
  log('acks: a late ack was ignored and the connection still works');
  c.expectTransport();
}

async function scenarioBinary() {
  const c = newClient('binary');
  await c.connected();
  await c.next('auth');
  await c.upgraded();

  const ten = Array.from({ length: 10 }, (_, i) => Buffer.from([i, 255 - i]));
  const cases = [
    ['a Buffer', [Buffer.from([1, 2, 3, 255, 0])]],
    ['nested Buffers in an object and an array', [{ a: Buffer.from([1, 2]), b: [Buffer.from([3]), 'x', { c: Buffer.from([4, 5, 6]) }], s: 'str' }]],
    ['mixed args', ['text', Buffer.from([9]), 42, { buf: Buffer.from([7, 8]) }, [Buffer.from([4]), Buffer.from([5, 6])], null]],
    ['an empty Buffer', [Buffer.alloc(0), 'after']],
    ['Uint8Array', [new Uint8Array([10, 20, 30])]],
    ['100,000-byte Buffer', [patternBuffer(100_000)]],
    ['10 Buffers (10 attachments)', ten],
    ['a placeholder look-alike object without binary', [{ _placeholder: true, num: 0 }, 'plain']],
  ];
  for (const [what, args] of cases) {
    c.emit('message', ...args);
    const got = await c.next('message-back');
    // norm() turns every binary into a Buffer on both sides, so a binary that came
    // back as anything else (a placeholder object, a number array) fails here.
    expectEqual(got, args, `binary: message-back with ${what}`);
  }
  log(`binary: ${cases.length} argument lists with binary came back identical`);

  // Binary through acks.
  expectEqual(await withDeadline(c.socket.emitWithAck('message-with-ack', Buffer.from([1, 2, 3])), 'binary ack'), Buffer.from([1, 2, 3]), 'binary: emitWithAck with a Buffer');
  const mixed = [Buffer.from([0xca, 0xfe]), 'x', { b: Buffer.from([0xbe, 0xef]), list: [Buffer.alloc(3, 7)] }];
  expectEqual(await c.emitAck('message-with-ack', ...mixed), mixed, 'binary: ack callback with several binaries');
  c.socket.on(`please-ack-bin-${TAG}`, (arg, ack) => ack({ echo: arg, extra: Buffer.from([0xde, 0xad]) }));
  expectEqual(
    await withDeadline(c.socket.emitWithAck('request-ack', `please-ack-bin-${TAG}`, Buffer.from([5, 6])), 'request-ack reply with binary'),
    { ok: true, reply: { echo: Buffer.from([5, 6]), extra: Buffer.from([0xde, 0xad]) } },
    'binary: server→client ack with binary',
  );
  log('binary: binary through client→server and server→client acks: ok');
  c.expectTransport();
}

async function scenarioRooms() {
  const [a, b, c] = ['A', 'B', 'C'].map((name) => newClient(`rooms/${name}`));
  const clients = [a, b, c];
  for (const client of clients) {
    await client.connected();
    await client.next('auth');
  }
  for (const client of clients) await client.upgraded();
  const r1 = `r1-${TAG}`;
  const r2 = `r2-${TAG}`;
  const ev = (name) => `${name}-${TAG}`;

  let barrierSeq = 0;
  // An emit from A to all three (through their own-id rooms). Delivery is in
  // order per socket, so once it arrives, everything A caused before has too.
  const barrier = async () => {
    const n = ++barrierSeq;
    a.emit('to', clients.map((x) => x.id), ev('barrier'), n);
    for (const client of clients) await client.expectEvent(ev('barrier'), [n], `barrier #${n} (to [own-id rooms of A, B, C])`);
  };
  /** After a barrier: each client got `event` exactly `counts[i]` times, each with `args`. */
  const expectCounts = (event, args, counts, what) => {
    clients.forEach((client, i) => {
      const got = client.drain(ev(event));
      if (got.length !== counts[i]) fail(`rooms: ${what}: ${client.label} got "${event}" ${got.length} time(s), expected ${counts[i]}`);
      for (const g of got) expectEqual(g, args, `rooms: ${what}: ${client.label} args`);
    });
  };

  for (const [client, room] of [[a, r1], [b, r1], [c, r2]]) {
    expectEqual(await client.emitAck('join', room), [room], `rooms: ${client.label} join ack`);
  }

  // The own-id room: every socket is in a room named after its id.
  a.emit('to', b.id, ev('direct'), 'just B');
  await barrier();
  expectCounts('direct', ['just B'], [0, 1, 0], 'to B\'s id');

  expectEqual(await a.emitAck('fetch', r1), [[a.id, b.id].sort()], 'rooms: fetch r1');
  expectEqual(await a.emitAck('fetch', r2), [[c.id]], 'rooms: fetch r2');
  expectEqual(await a.emitAck('fetch', `empty-${TAG}`), [[]], 'rooms: fetch of an empty room');

  a.emit('to', r1, ev('to-r1'), 1, { x: 'y' });
  await barrier();
  expectCounts('to-r1', [1, { x: 'y' }], [1, 1, 0], 'to r1');

  a.emit('to', r1, ev('to-r1-bin'), Buffer.from([1, 2, 3]), { b: Buffer.from([4]) });
  await barrier();
  expectCounts('to-r1-bin', [Buffer.from([1, 2, 3]), { b: Buffer.from([4]) }], [1, 1, 0], 'to r1 with binary');
  log('rooms: to own-id room, to r1 (text and binary), fetch: ok');

  expectEqual(await b.emitAck('join', r2), [r2], 'rooms: B join r2');
  a.emit('to', [r1, r2], ev('to-both'), 'both');
  await barrier();
  expectCounts('to-both', ['both'], [1, 1, 1], 'to [r1, r2] with B in both rooms');

  a.emit('to-except', r1, r2, ev('to-except'), 'except');
  await barrier();
  expectCounts('to-except', ['except'], [1, 0, 0], 'to r1 except r2 (B is in r2)');

  a.emit('broadcast', ev('bcast'), 'from A');
  await barrier();
  expectCounts('bcast', ['from A'], [0, 1, 1], 'broadcast from A');
  log('rooms: to [r1, r2] (once each), to-except, broadcast: ok');

  // Volatile: may be dropped when a transport is not writable at that instant
  // (over polling: between two GETs), so retry a few times; every client must
  // get at least one, and never the same one twice.
  await delay(50);
  const got = clients.map(() => new Set());
  for (let attempt = 1; attempt <= 5 && got.some((set) => set.size === 0); attempt++) {
    a.emit('volatile', ev('vol'), attempt);
    await barrier();
    clients.forEach((client, i) => {
      for (const [n, ...rest] of client.drain(ev('vol'))) {
        if (rest.length) fail(`rooms: volatile: ${client.label} got extra args ${show(rest)}`);
        if (got[i].has(n)) fail(`rooms: volatile: ${client.label} got volatile #${n} twice`);
        got[i].add(n);
      }
    });
    if (got.some((set) => set.size === 0)) await delay(60);
  }
  clients.forEach((client, i) => {
    if (got[i].size === 0) fail(`rooms: volatile: ${client.label} got none of 5 volatile emits`);
  });
  log(`rooms: volatile reached every client (${clients.map((x, i) => `${x.label.slice(6)}:${[...got[i]].join('/')}`).join(' ')})`);

  expectEqual(await b.emitAck('leave', r1), [r1], 'rooms: B leave r1');
  expectEqual(await a.emitAck('fetch', r1), [[a.id]], 'rooms: fetch r1 after B left');
  expectEqual(await a.emitAck('fetch', r2), [[b.id, c.id].sort()], 'rooms: fetch r2');
  a.emit('to', r1, ev('after-leave'), 'only A');
  await barrier();
  expectCounts('after-leave', ['only A'], [1, 0, 0], 'to r1 after B left it');
  log('rooms: leave: ok');
  for (const client of clients) client.expectTransport();
}

async function scenarioConnectError() {
  // /mw without the token: refused by the middleware, with data; no automatic retry.
  const mw = newClient('connect-error /mw', {}, '/mw');
  const err = await mw.nextConnectError();
  if (err.message !== 'not authorized') fail(`connect-error /mw: message "${err.message}", expected "not authorized"`);
  expectEqual(err.data, { reason: 'token' }, 'connect-error /mw: err.data');
  if (mw.socket.active) fail('connect-error /mw: socket.active is still true; a middleware refusal must not be retried automatically');
  // With the token, the same socket connects.
  mw.socket.auth = { token: 'secret' };
  mw.socket.connect();
  await mw.connected();
  await mw.expectEvent('auth', [{ token: 'secret' }], 'auth event after connecting with the token');
  log('connect-error: /mw refused without the token ("not authorized", data {reason:"token"}), accepted with it');

  // Unknown namespace.
  const unknown = newClient('connect-error /unknown', {}, '/unknown');
  const err2 = await unknown.nextConnectError();
  if (err2.message !== 'Invalid namespace') fail(`connect-error /unknown: message "${err2.message}", expected "Invalid namespace"`);
  if (err2.data !== undefined) fail(`connect-error /unknown: err.data is ${show(err2.data)}, expected none`);
  log('connect-error: /unknown refused with "Invalid namespace"');

  // Refusals on a shared engine connection leave the other namespaces alone.
  const manager = new Manager(BASE_URL, managerOptions());
  const root = new Client('connect-error (shared) /', manager.socket('/'));
  await root.connected();
  await root.next('auth');
  await root.upgraded();
  const engineId = manager.engine.id;
  const unknown2 = new Client('connect-error (shared) /unknown', manager.socket('/unknown'));
  const mw2 = new Client('connect-error (shared) /mw', manager.socket('/mw', { auth: { token: 'wrong' } }));
  expectEqual((await unknown2.nextConnectError()).message, 'Invalid namespace', 'connect-error (shared): /unknown message');
  const err3 = await mw2.nextConnectError();
  if (err3.message !== 'not authorized') fail(`connect-error (shared) /mw: message "${err3.message}", expected "not authorized"`);
  await root.roundTrip('root after refusals');
  if (manager.engine.id !== engineId) fail(`connect-error (shared): the engine connection changed (${manager.engine.id}, was ${engineId})`);
  mw2.socket.auth = { token: 'secret' };
  mw2.socket.connect();
  await mw2.connected();
  await mw2.expectEvent('auth', [{ token: 'secret' }], 'auth event');
  await root.roundTrip('root after /mw joined');
  if (manager.engine.id !== engineId) fail(`connect-error (shared): the engine connection changed (${manager.engine.id}, was ${engineId})`);
  log('connect-error: on one engine connection, refusals for /unknown and /mw left "/" working; /mw then joined with the token');
  root.expectTransport();
}

async function scenarioServerDisconnect() {
  const QUIET_MS = 500; // longer than reconnectionDelayMax (200 ms)

  // A lone client, and one whose whole connection the server closes.
  const lone = newClient('server-disconnect/lone');
  const closed = newClient('server-disconnect/close');
  // "/" and "/custom" on one engine connection.
  const manager = new Manager(BASE_URL, managerOptions());
  const root = new Client('server-disconnect/shared /', manager.socket('/'));
  const custom = new Client('server-disconnect/shared /custom', manager.socket('/custom'));
  for (const client of [lone, closed, root, custom]) {
    await client.connected();
    await client.next('auth');
    await client.upgraded();
  }
  const engineId = manager.engine.id;

  lone.emit('server-disconnect');
  root.emit('server-disconnect');
  // The disconnect packet comes before the connection's close, in every
  // transport: the client must still report the server's disconnect.
  closed.emit('server-close');
  for (const client of [lone, root, closed]) {
    const { reason } = await client.nextDisconnect();
    if (reason !== 'io server disconnect') fail(`${client.label}: disconnect reason "${reason}", expected "io server disconnect"`);
    if (client.socket.active) fail(`${client.label}: socket.active is still true after "io server disconnect"`);
  }
  // The other namespace on the same engine connection is not affected.
  await custom.roundTrip('custom after / was disconnected');
  if (manager.engine.id !== engineId) fail(`server-disconnect/shared: engine changed (${manager.engine.id}, was ${engineId})`);

  await delay(QUIET_MS);
  for (const client of [lone, root, closed]) {
    if (client.connects.length !== 1 || client.socket.connected) fail(`${client.label}: reconnected by itself after "io server disconnect"`);
    if (client.manager.reconnectAttempts !== 0) fail(`${client.label}: ${client.manager.reconnectAttempts} reconnection attempt(s) after "io server disconnect"`);
  }
  custom.guard('the quiet period');
  log(`server-disconnect: "io server disconnect" seen (also with the connection closed), no reconnection within ${QUIET_MS} ms, /custom on the same engine unaffected`);

  // A manual reconnection works, with a new socket id.
  root.socket.connect();
  const id2 = await root.connected(2);
  if (id2 === root.connects[0]) fail(`server-disconnect/shared /: the manual reconnection reused socket id ${id2}`);
  await root.next('auth');
  await root.roundTrip('root after manual reconnect');
  if (manager.engine.id !== engineId) fail(`server-disconnect/shared: engine changed (${manager.engine.id}, was ${engineId})`);
  lone.socket.connect();
  await lone.connected(2);
  await lone.next('auth');
  await lone.upgraded();
  await lone.roundTrip('lone after manual reconnect');
  log('server-disconnect: manual reconnection works (new socket id)');
  for (const client of [lone, root, custom]) client.expectTransport();
}

async function scenarioReconnect() {
  const c = newClient('reconnect', { auth: { token: 're' } });
  const id1 = await c.connected();
  await c.expectEvent('auth', [{ token: 're' }], 'auth event');
  await c.upgraded();
  const engine1 = c.engine.id;

  c.emit('drop-transport');
  const { reason } = await c.nextDisconnect();
  if (reason !== 'transport close') fail(`reconnect: disconnect reason "${reason}", expected "transport close"`);
  if (!c.socket.active) fail('reconnect: socket.active is false after "transport close"; it should reconnect');
  // Emitted while disconnected: buffered by the client, sent after the reconnection.
  c.emit('message', 'sent while disconnected');

  const id2 = await c.connected(2);
  if (id2 === id1) fail(`reconnect: the new connection reused socket id ${id1}`);
  if (c.engine.id === engine1) fail(`reconnect: the engine id ${engine1} did not change`);
  if (c.manager.reconnects < 1) fail('reconnect: no "reconnect" event on the Manager');
  await c.expectEvent('auth', [{ token: 're' }], 'auth event after the reconnection');
  await c.expectEvent('message-back', ['sent while disconnected'], 'message-back for the message buffered while disconnected');
  await c.upgraded();
  await c.roundTrip('after reconnect');
  expectEqual(await c.emitAck('message-with-ack', 'ack after reconnect'), ['ack after reconnect'], 'reconnect: ack after the reconnection');
  log(`reconnect: "transport close", then reconnected after ${c.manager.reconnectAttempts} attempt(s): socket ${id1} → ${id2}, engine ${engine1} → ${c.engine.id}`);
  c.expectTransport();
}

const SCENARIOS = {
  connect: scenarioConnect,
  namespaces: scenarioNamespaces,
  events: scenarioEvents,
  acks: scenarioAcks,
  binary: scenarioBinary,
  rooms: scenarioRooms,
  'connect-error': scenarioConnectError,
  'server-disconnect': scenarioServerDisconnect,
  reconnect: scenarioReconnect,
};

// ---------------------------------------------------------------------------
// Entry point

function usage() {
  console.error(`usage: node socket-client.mjs <${[...Object.keys(SCENARIOS), 'all'].join('|')}> <${MODES.join('|')}> <baseUrl> [json|msgpack]`);
  console.error('  e.g. node socket-client.mjs all upgrade http://127.0.0.1:3000');
  process.exit(2);
}

async function main() {
  const [scenario, mode, baseUrl, parser = 'json'] = process.argv.slice(2);
  if (!scenario || !mode || !baseUrl) usage();
  if (scenario !== 'all' && !(scenario in SCENARIOS)) usage();
  if (!MODES.includes(mode)) usage();
  if (!/^https?:\/\//.test(baseUrl)) usage();
  if (!['json', 'msgpack'].includes(parser)) usage();
  MODE = mode;
  BASE_URL = baseUrl;
  PARSER = parser === 'msgpack' ? { parser: msgpackParser } : {};

  const watchdog = setTimeout(() => {
    console.log(`FAIL ${scenario}: the run did not finish within ${OVERALL_DEADLINE_MS} ms`);
    process.exit(1);
  }, OVERALL_DEADLINE_MS);
  watchdog.unref();

  const names = scenario === 'all' ? Object.keys(SCENARIOS) : [scenario];
  let current = scenario;
  const startedAll = Date.now();
  try {
    for (const name of names) {
      current = name;
      const started = Date.now();
      try {
        await SCENARIOS[name]();
      } finally {
        closeAll();
      }
      log(`${name}: finished in ${Date.now() - started} ms (${mode})`);
      log(`ok ${name}`);
    }
    if (scenario === 'all') {
      log(`all: finished in ${Date.now() - startedAll} ms (${mode})`);
      log('ok all');
    }
  } catch (err) {
    if (err instanceof Failure) {
      console.log(`FAIL ${current}: ${err.message}`);
    } else {
      console.log(`FAIL ${current}: unexpected error`);
      console.log(err?.stack ?? String(err));
    }
    process.exit(1);
  }

  // Everything is closed; let the process end on its own, and force it if a
  // handle lingers.
  clearTimeout(watchdog);
  setTimeout(() => {
    console.log('note: forcing exit, a handle was still open after closing every socket');
    process.exit(0);
  }, 2_000).unref();
}

main();
