#!/usr/bin/env node
// Checks of the chat demo protocol (see README.md, "The chat demo") with the
// official `socket.io-client` (4.8.4), against a server such as `rally serve`
// or the reference, ref-chat-server.mjs.
//
// Usage: node chat-client.mjs <baseUrl>
//   e.g. node chat-client.mjs http://127.0.0.1:3000
//
// Prints one line per step and "ok chat" at the end, exit status 0. On a
// failure: "FAIL chat: <step>: <reason>", exit status 1; a usage error exits
// with 2. Every wait has a deadline, and a watchdog limits the whole run.
//
// "Nothing else arrives" is checked with a sync: each client emits `join` of
// a private room and waits for the ack. A server handles one socket's events in
// order, and writes to one socket in order, so anything that an earlier event
// sent to that client has arrived before the ack. After the sync, every
// client's inbox must be empty: any event the step did not expect fails it.
// Names and room names carry a random tag for each run, so runs can share a server.

import { io } from 'socket.io-client';
import { isDeepStrictEqual, inspect } from 'node:util';

const WAIT_MS = 5_000; // deadline for one wait
const OVERALL_DEADLINE_MS = 45_000; // the whole run
const TAG = Math.random().toString(36).slice(2, 8);

// The protocol's error strings.
const NAME_ERROR = 'a name is required (1 to 32 characters)';
const ROOM_ERROR = 'a room name is required (1 to 64 characters)';
const TEXT_EMPTY = 'text is empty';
const TEXT_TOO_LONG = 'text is longer than 2000 characters';
const notInRoom = (room) => `not in room ${room}`;

let BASE_URL = '';
let step = 'setup';

class Failure extends Error {}

function fail(message) {
  throw new Failure(message);
}

function log(line) {
  console.log(line);
}

function show(value) {
  return inspect(value, { depth: 6, maxArrayLength: 12, maxStringLength: 60, breakLength: Infinity });
}

function expectEqual(actual, expected, what) {
  if (!isDeepStrictEqual(actual, expected)) fail(`${what}: got ${show(actual)}, expected ${show(expected)}`);
}

// ---------------------------------------------------------------------------
// Waiting: one set of waiters, woken by every event any client sees.

const waiters = new Set();

function wakeAll() {
  for (const waiter of [...waiters]) waiter();
}

/** Waits until check() returns something other than undefined; check may throw a Failure. */
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

// ---------------------------------------------------------------------------
// A client: one socket, an inbox of every event, bounded waits.

const liveClients = new Set();

class Client {
  constructor(label, auth) {
    this.label = label;
    this.name = auth?.name;
    this.socket = io(BASE_URL, {
      path: '/socket.io/',
      forceNew: true,
      reconnection: false,
      timeout: WAIT_MS,
      ...(auth === undefined ? {} : { auth }),
    });
    this.inbox = []; // { event, args }
    this.connected = false;
    this.disconnects = [];
    this.connectErrors = [];
    this.syncs = 0;
    liveClients.add(this);
    this.socket.onAny((event, ...args) => {
      this.inbox.push({ event, args });
      wakeAll();
    });
    this.socket.on('connect', () => {
      this.connected = true;
      wakeAll();
    });
    this.socket.on('disconnect', (reason) => {
      this.disconnects.push(reason);
      wakeAll();
    });
    this.socket.on('connect_error', (err) => {
      this.connectErrors.push(err);
      wakeAll();
    });
  }

  guard(what) {
    if (this.disconnects.length) fail(`${this.label}: disconnected ("${this.disconnects[0]}") while waiting for ${what}`);
    if (this.connectErrors.length) fail(`${this.label}: connect_error "${this.connectErrors[0].message}" while waiting for ${what}`);
  }

  async ready() {
    await waitFor(`connection (${this.label})`, () => {
      if (this.connected) return true;
      this.guard('the connection');
      return undefined;
    });
  }

  /** Waits for a connect_error; fails if the socket connects instead. */
  async refused() {
    return waitFor(`connect_error (${this.label})`, () => {
      if (this.connected) fail(`${this.label}: connected (id ${this.socket.id}) instead of being refused`);
      return this.connectErrors[0];
    });
  }

  /** Removes and returns the args of the first inbox entry for `event`. */
  next(event) {
    return waitFor(`"${event}" event (${this.label})`, () => {
      const i = this.inbox.findIndex((entry) => entry.event === event);
      if (i >= 0) return this.inbox.splice(i, 1)[0].args;
      this.guard(`a "${event}" event`);
      return undefined;
    });
  }

  async expect(event, payload, what) {
    const args = await this.next(event);
    expectEqual(args, [payload], `${this.label}: ${what}`);
  }

  /** Receives a "chat message" and checks it (ts: a plausible time in ms, taken between `before` and now). */
  async expectMessage(room, name, text, before, what) {
    const args = await this.next('chat message');
    const after = Date.now();
    if (args.length !== 1 || args[0] === null || typeof args[0] !== 'object') fail(`${this.label}: ${what}: "chat message" with args ${show(args)}, expected one object`);
    const message = args[0];
    const { ts } = message;
    expectEqual({ ...message, ts: 0 }, { room, name, text, ts: 0 }, `${this.label}: ${what}`);
    if (typeof ts !== 'number' || !Number.isInteger(ts)) fail(`${this.label}: ${what}: ts is ${show(ts)}, expected an integer number of ms since the epoch`);
    // The server runs on this machine in the tests; allow some clock slack anyway.
    if (ts < before - 2_000 || ts > after + 2_000) fail(`${this.label}: ${what}: ts ${ts} (${new Date(ts).toISOString()}) is not between ${before} and ${after} (± 2 s)`);
  }

  emit(event, ...args) {
    this.socket.emit(event, ...args);
  }

  /** Emits with an ack; resolves with the ack's arguments (an array). */
  ack(event, ...args) {
    let timer;
    return Promise.race([
      new Promise((resolve) => this.socket.emit(event, ...args, (...reply) => resolve(reply))),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Failure(`no ack for "${event}" (${this.label}) within ${WAIT_MS} ms`)), WAIT_MS);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  async expectAck(event, args, reply, what) {
    expectEqual(await this.ack(event, ...args), [reply], `${this.label}: ${what}`);
  }

  /** Round trip through the server: everything sent to this client before it has arrived. */
  async sync() {
    this.syncs += 1;
    const room = `sync-${this.label}-${TAG}`;
    const reply = await this.ack('join', room);
    expectEqual(reply, [{ room, members: 1 }], `${this.label}: ack for the sync join of its private room`);
  }

  expectEmptyInbox(what) {
    if (this.inbox.length) {
      fail(`${this.label}: unexpected ${this.inbox.map((e) => `"${e.event}" ${show(e.args)}`).join(', ')} (${what})`);
    }
  }

  close() {
    liveClients.delete(this);
    this.socket.disconnect();
  }
}

/** Syncs every client (the actor first), then checks that no client got anything else. */
async function quiet(what, ...clients) {
  for (const client of clients) await client.sync();
  for (const client of clients) client.expectEmptyInbox(what);
}

function closeAll() {
  for (const client of [...liveClients]) client.close();
}

async function connect(label, name) {
  const client = new Client(label, { name });
  await client.ready();
  return client;
}

// ---------------------------------------------------------------------------
// Steps

async function refusedConnections() {
  const cases = [
    ['no auth', undefined],
    ['auth without a name', {}],
    ['an empty name', { name: '' }],
    ['a whitespace name', { name: ' \t ' }],
    ['a number as name', { name: 42 }],
    ['null as name', { name: null }],
    ['a 33-character name', { name: 'n'.repeat(33) }],
  ];
  for (const [what, auth] of cases) {
    const client = new Client(`refused/${what}`, auth);
    const err = await client.refused();
    if (!(err instanceof Error) || err.message !== NAME_ERROR) fail(`${what}: connect_error ${show(err?.message ?? err)}, expected "${NAME_ERROR}"`);
    if (client.socket.active) fail(`${what}: socket.active is still true after the refusal (the refusal must be a CONNECT_ERROR from the namespace)`);
    client.close();
  }
  log(`refused: ${cases.length} connections without a usable name got connect_error "${NAME_ERROR}"`);
  // The limits: 32 characters, and 32 characters after trimming.
  const long = await connect('name-32', 'm'.repeat(32));
  const padded = await connect('name-padded', `  ${'p'.repeat(32)}  `);
  await quiet('after connecting', long, padded);
  long.close();
  padded.close();
  log('refused: a 32-character name, and one with spaces around it, connect');
}

async function main(names) {
  const A = await connect('alice', names.alice);
  const B = await connect('bob', names.bob);
  const C = await connect('carol', names.carol);
  const R = `lobby-${TAG}`;
  const R2 = `side-${TAG}`;

  // --- join: acks with the member count; "user joined" to the others only.
  step = 'join';
  await A.expectAck('join', [R], { room: R, members: 1 }, `join ${R} ack`);
  await B.expectAck('join', [R], { room: R, members: 2 }, `join ${R} ack`);
  await A.expect('user joined', { name: names.bob, room: R }, 'user joined for bob');
  await C.expectAck('join', [R2], { room: R2, members: 1 }, `join ${R2} ack`);
  await quiet('after joins of two rooms', C, A, B);
  await C.expectAck('join', [R], { room: R, members: 3 }, `join ${R} ack`);
  await A.expect('user joined', { name: names.carol, room: R }, 'user joined for carol');
  await B.expect('user joined', { name: names.carol, room: R }, 'user joined for carol');
  await quiet('"user joined" goes to the others only', C, A, B);
  // Joining a room again: the same count, nothing sent.
  await A.expectAck('join', [R], { room: R, members: 3 }, `join ${R} a second time`);
  await quiet('a second join of the same room announces nothing', A, B, C);
  // Room names: 1 to 64 characters, not only whitespace.
  await A.expectAck('join', [''], { ok: false, error: ROOM_ERROR }, 'join with an empty room name');
  await A.expectAck('join', ['   '], { ok: false, error: ROOM_ERROR }, 'join with a whitespace room name');
  await A.expectAck('join', ['r'.repeat(65)], { ok: false, error: ROOM_ERROR }, 'join with a 65-character room name');
  await A.expectAck('join', [42], { ok: false, error: ROOM_ERROR }, 'join with a number as room');
  await quiet('refused joins send nothing', A, B, C);
  log(`join: acks with member counts 1, 2, 1, 3; "user joined" reached the others only; a second join and invalid room names announce nothing`);

  // --- chat message: everyone in the room, sender included.
  step = 'chat message';
  for (const text of ['hello', 'héllo wörld ✓ 😀 日本語 <b>&amp;</b> "quotes" \\ \n second line']) {
    const before = Date.now();
    await A.expectAck('chat message', [{ room: R, text }], { ok: true }, `chat message ${show(text)}`);
    for (const client of [A, B, C]) await client.expectMessage(R, names.alice, text, before, `chat message ${show(text)}`);
  }
  {
    const text = 'x'.repeat(1999) + 'é'; // exactly 2000 characters
    const before = Date.now();
    await B.expectAck('chat message', [{ room: R, text }], { ok: true }, 'chat message of exactly 2000 characters');
    for (const client of [A, B, C]) await client.expectMessage(R, names.bob, text, before, 'chat message of exactly 2000 characters');
  }
  {
    const before = Date.now();
    await C.expectAck('chat message', [{ room: R2, text: 'only in side' }], { ok: true }, `chat message to ${R2}`);
    await C.expectMessage(R2, names.carol, 'only in side', before, `chat message to ${R2}`);
  }
  await quiet('chat messages reach the room only', A, B, C);
  log('chat message: reached everyone in the room, the sender included, with a plausible ts; exactly 2000 characters accepted; not beyond the room');

  // --- error acks: nothing sent to anyone.
  step = 'chat message errors';
  const errors = [
    ['an empty text', { room: R, text: '' }, TEXT_EMPTY],
    ['a whitespace text', { room: R, text: ' \n\t  ' }, TEXT_EMPTY],
    ['a 2001-character text', { room: R, text: 'y'.repeat(2001) }, TEXT_TOO_LONG],
    ['a room not joined', { room: R2, text: 'not for side' }, notInRoom(R2)],
    ['a room nobody joined', { room: `nowhere-${TAG}`, text: 'hello?' }, notInRoom(`nowhere-${TAG}`)],
  ];
  for (const [what, message, error] of errors) {
    await A.expectAck('chat message', [message], { ok: false, error }, `chat message with ${what}`);
  }
  await quiet('refused chat messages send nothing', A, B, C);
  log(`chat message errors: ${errors.map(([, , e]) => `"${e}"`).join(', ')}; nothing was sent`);

  // --- typing: the others in the room only.
  step = 'typing';
  A.emit('typing', R);
  await B.expect('typing', { name: names.alice, room: R }, 'typing from alice');
  await C.expect('typing', { name: names.alice, room: R }, 'typing from alice');
  A.emit('typing', R2); // alice is not in R2: nothing
  await quiet('typing goes to the others in the room only', A, B, C);
  log('typing: reached the others in the room only; nothing for a room not joined');

  // --- leave: "user left" to the others; the ack gives the members left.
  step = 'leave';
  await C.expectAck('leave', [R], { room: R, members: 2 }, `leave ${R} ack`);
  await A.expect('user left', { name: names.carol, room: R }, 'user left for carol');
  await B.expect('user left', { name: names.carol, room: R }, 'user left for carol');
  await quiet('"user left" goes to the others only', C, A, B);
  await C.expectAck('chat message', [{ room: R, text: 'after leaving' }], { ok: false, error: notInRoom(R) }, 'chat message after leaving');
  await C.expectAck('leave', [R], { room: R, members: 2 }, `leave ${R} when not in it`);
  await quiet('leaving a room one is not in announces nothing', C, A, B);
  // Leave without an ack.
  await B.expectAck('join', [R2], { room: R2, members: 2 }, `join ${R2} ack`);
  await C.expect('user joined', { name: names.bob, room: R2 }, 'user joined for bob');
  C.emit('leave', R2);
  await B.expect('user left', { name: names.carol, room: R2 }, 'user left for carol (leave without an ack)');
  await quiet('after a leave without an ack', C, A, B);
  await C.expectAck('join', [R2], { room: R2, members: 2 }, `join ${R2} again`);
  await B.expect('user joined', { name: names.carol, room: R2 }, 'user joined for carol');
  await quiet('after joining again', C, A, B);
  log('leave: "user left" to the others, acks with the members left (also when not in the room, announcing nothing); leave without an ack');

  // --- disconnection: "user left" in every room the user was in.
  step = 'disconnection';
  B.close(); // bob is in R (with alice) and R2 (with carol)
  await A.expect('user left', { name: names.bob, room: R }, 'user left for bob after his disconnection');
  await C.expect('user left', { name: names.bob, room: R2 }, 'user left for bob after his disconnection');
  await quiet('after a disconnection', A, C);
  await A.expectAck('join', [R], { room: R, members: 1 }, `join ${R} again after the others went`);
  await C.expectAck('leave', [R2], { room: R2, members: 0 }, `leave ${R2}, the last one`);
  await quiet('at the end', A, C);
  log(`disconnection: "user left" reached the others in both of bob's rooms; member counts follow`);
}

// ---------------------------------------------------------------------------
// Entry point

function usage() {
  console.error('usage: node chat-client.mjs <baseUrl>');
  console.error('  e.g. node chat-client.mjs http://127.0.0.1:3000');
  process.exit(2);
}

async function run() {
  const [baseUrl, extra] = process.argv.slice(2);
  if (!baseUrl || extra !== undefined || !/^https?:\/\//.test(baseUrl)) usage();
  BASE_URL = baseUrl;

  const watchdog = setTimeout(() => {
    console.log(`FAIL chat: ${step}: the run did not finish within ${OVERALL_DEADLINE_MS} ms`);
    process.exit(1);
  }, OVERALL_DEADLINE_MS);
  watchdog.unref();

  const started = Date.now();
  try {
    step = 'refused';
    await refusedConnections();
    step = 'connect';
    await main({ alice: `alice-${TAG}`, bob: `bob-${TAG}`, carol: `carol-${TAG}` });
  } catch (err) {
    if (err instanceof Failure) {
      console.log(`FAIL chat: ${step}: ${err.message}`);
    } else {
      console.log(`FAIL chat: ${step}: unexpected error`);
      console.log(err?.stack ?? String(err));
    }
    process.exit(1);
  } finally {
    closeAll();
  }
  log(`chat: finished in ${Date.now() - started} ms`);
  log('ok chat');
  clearTimeout(watchdog);
  setTimeout(() => {
    console.log('note: forcing exit, a handle was still open after closing every socket');
    process.exit(0);
  }, 2_000).unref();
}

run();
