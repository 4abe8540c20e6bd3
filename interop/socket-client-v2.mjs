#!/usr/bin/env node
// Interop checks for Socket.IO v2 clients: the official socket.io-client
// 2.5.0 (Engine.IO protocol 3, Socket.IO protocol 4; installed as
// `socket.io-client-v2`) against a server that implements the interop test
// protocol (README.md) with Engine.IO 3 allowed (socket.io's allowEIO3,
// Rally's allow_eio3).
//
// Usage: node socket-client-v2.mjs <scenario|all> <polling|websocket|upgrade> <baseUrl>
//
// Scenarios: connect, namespaces, events, acks, binary, rooms (a v2 and a v4
// client in one room get the same broadcast), connect-error,
// server-disconnect, reconnect. Exit status 0 and a final line "ok
// <scenario>" on success; otherwise "FAIL <scenario>: <reason>" and exit
// status 1; a usage error exits with 2. Every wait has a deadline.

import { createRequire } from 'node:module';
import { isDeepStrictEqual, inspect } from 'node:util';
import { io as ioV4 } from 'socket.io-client';

const require = createRequire(import.meta.url);
const ioV2 = require('socket.io-client-v2');

const WAIT_MS = 5_000;
const OVERALL_DEADLINE_MS = 60_000;
const MODES = ['polling', 'websocket', 'upgrade'];
const TAG = Math.random().toString(36).slice(2, 8);

let MODE = 'polling';
let BASE_URL = '';

class Failure extends Error {}
const fail = (message) => {
  throw new Failure(message);
};
const show = (v) => inspect(v, { depth: 6, breakLength: Infinity });
const expectEqual = (got, want, what) => {
  if (!isDeepStrictEqual(got, want)) fail(`${what}: got ${show(got)}, expected ${show(want)}`);
};

function transportOptions() {
  if (MODE === 'polling') return { transports: ['polling'] };
  if (MODE === 'websocket') return { transports: ['websocket'] };
  return {};
}

/** Waits until `check()` is truthy, polling every 5 ms, for at most WAIT_MS. */
async function until(check, what) {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const live = new Set();

/** A v2 socket with an inbox. */
class Client {
  constructor(label, socket) {
    this.label = label;
    this.socket = socket;
    this.inbox = [];
    this.errors = [];
    this.disconnects = [];
    this.connects = 0;
    live.add(this);
    const onevent = socket.onevent;
    // socket.io-client 2.x has no onAny: record every event it dispatches.
    socket.onevent = (packet) => {
      const args = [...(packet.data || [])];
      if (typeof args[args.length - 1] !== 'function') {
        this.inbox.push({ event: args[0], args: args.slice(1) });
      }
      onevent.call(socket, packet);
    };
    socket.on('connect', () => (this.connects += 1));
    socket.on('error', (err) => this.errors.push(err));
    socket.on('disconnect', (reason) => this.disconnects.push(reason));
  }

  static open(label, nsp = '/', query = undefined) {
    const url = nsp === '/' ? BASE_URL : new URL(nsp, BASE_URL).href;
    const socket = ioV2(url, {
      forceNew: true,
      reconnectionDelay: 100,
      reconnectionDelayMax: 200,
      timeout: WAIT_MS,
      ...(query ? { query } : {}),
      ...transportOptions(),
    });
    return new Client(label, socket);
  }

  connected() {
    return until(() => this.socket.connected, `${this.label} to connect`);
  }

  async upgraded() {
    if (MODE !== 'upgrade') return;
    await until(() => this.socket.io.engine?.transport?.name === 'websocket', `${this.label} to upgrade`);
  }

  expectTransport() {
    const want = MODE === 'polling' ? 'polling' : 'websocket';
    expectEqual(this.socket.io.engine.transport.name, want, `${this.label} transport`);
  }

  /** The arguments of the next `event` in the inbox (taken out). */
  async next(event) {
    const i = await until(() => {
      const at = this.inbox.findIndex((e) => e.event === event);
      return at >= 0 ? at + 1 : 0;
    }, `${this.label} to get "${event}"`);
    return this.inbox.splice(i - 1, 1)[0].args;
  }

  emitAck(event, ...args) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Failure(`${this.label}: no ack for "${event}"`)), WAIT_MS);
      this.socket.emit(event, ...args, (...reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
    });
  }

  close() {
    this.socket.close();
    live.delete(this);
  }
}

const closeAll = () => {
  for (const c of live) c.close();
};

// ---------------------------------------------------------------------------
// Scenarios

const SCENARIOS = {
  async connect() {
    const c = Client.open('connect');
    await c.connected();
    // The server joins `/` on its own: the id is the Engine.IO session's.
    expectEqual(c.socket.id, c.socket.io.engine.id, 'the socket id');
    expectEqual(await c.next('auth'), [{}], 'auth in /');
    await c.upgraded();
    c.expectTransport();
  },

  async namespaces() {
    const root = Client.open('root');
    await root.connected();
    await root.next('auth');
    const custom = Client.open('custom', '/custom', { token: 'a b', n: '1' });
    await custom.connected();
    // The namespace's query string is its auth.
    expectEqual(await custom.next('auth'), [{ token: 'a b', n: '1' }], 'auth in /custom');
    custom.socket.emit('message', 'in custom');
    expectEqual(await custom.next('message-back'), ['in custom'], 'message-back in /custom');
    expectEqual(await custom.emitAck('message-with-ack', 1, 'two'), [1, 'two'], 'ack in /custom');
    expectEqual(custom.socket.id, `/custom#${custom.socket.io.engine.id}`, 'the client-side id in /custom');
    const mw = Client.open('mw', '/mw', { token: 'secret' });
    await mw.connected();
    expectEqual(await mw.next('auth'), [{ token: 'secret' }], 'auth in /mw');
    await root.upgraded();
    root.expectTransport();
  },

  async events() {
    const c = Client.open('events');
    await c.connected();
    await c.next('auth');
    await c.upgraded();
    const cases = [
      ['hello'],
      ['string', 42, 3.25, -7, 0, true, false, null, { a: 1, b: { c: [1, 2, { d: 'e' }] } }],
      ['héllo wörld ✓ 😀 日本語'],
      [],
      [{}, [], ''],
      ['x'.repeat(100_000)],
    ];
    for (const args of cases) {
      c.socket.emit('message', ...args);
      expectEqual(await c.next('message-back'), args, `message-back ${show(args).slice(0, 60)}`);
    }
    for (let i = 0; i < 30; i++) c.socket.emit('message', 'burst', i);
    for (let i = 0; i < 30; i++) expectEqual(await c.next('message-back'), ['burst', i], `burst #${i}`);
    c.expectTransport();
  },

  async acks() {
    const c = Client.open('acks');
    await c.connected();
    await c.next('auth');
    await c.upgraded();
    expectEqual(await c.emitAck('message-with-ack', 'one', { two: 2 }), ['one', { two: 2 }], 'client to server ack');
    // Server to client: the server asks, this client answers.
    c.socket.on('ask', (n, ack) => ack({ got: n }));
    expectEqual(await c.emitAck('request-ack', 'ask', 7), [{ ok: true, reply: { got: 7 } }], 'server to client ack');
    c.expectTransport();
  },

  async binary() {
    const c = Client.open('binary');
    await c.connected();
    await c.next('auth');
    await c.upgraded();
    const nested = { file: Buffer.from([1, 2, 3]), parts: [Buffer.from([9]), Buffer.alloc(0)], name: 'n' };
    c.socket.emit('message', nested, 'text', Buffer.from([255]));
    const [back, text, last] = await c.next('message-back');
    expectEqual(text, 'text', 'binary: the text argument');
    expectEqual([...back.file], [1, 2, 3], 'binary: nested file');
    expectEqual(back.parts.map((p) => [...p]), [[9], []], 'binary: nested parts');
    expectEqual([...last], [255], 'binary: the last argument');
    // Binary in acks, both ways.
    const [reply] = await c.emitAck('message-with-ack', Buffer.from([4, 5]));
    expectEqual([...reply], [4, 5], 'binary ack');
    c.socket.on('give', (_n, ack) => ack(Buffer.from([6])));
    const [answer] = await c.emitAck('request-ack', 'give', 0);
    expectEqual(answer.ok, true, 'binary request-ack');
    expectEqual([...answer.reply], [6], 'binary request-ack reply');
    c.expectTransport();
  },

  async rooms() {
    const v2 = Client.open('v2');
    await v2.connected();
    await v2.next('auth');
    const v4 = ioV4(BASE_URL, { forceNew: true, ...transportOptions() });
    const v4inbox = [];
    v4.onAny((event, ...args) => v4inbox.push({ event, args }));
    await until(() => v4.connected, 'the v4 client to connect');
    await v2.upgraded();
    const room = `room-${TAG}`;
    expectEqual(await v2.emitAck('join', room), [room], 'v2 joins');
    const joined = await new Promise((resolve) => v4.emit('join', room, (...r) => resolve(r)));
    expectEqual(joined, [room], 'v4 joins');
    // One broadcast from the v4 side, one from the v2 side; both get both.
    v4.emit('to', room, 'news', 'from v4', { n: 1 });
    v2.socket.emit('to', room, 'news', 'from v2', Buffer.from([7]));
    const got2 = [await v2.next('news'), await v2.next('news')];
    const got4 = await until(() => {
      const news = v4inbox.filter((e) => e.event === 'news');
      return news.length >= 2 ? news.map((e) => e.args) : null;
    }, 'the v4 client to get both broadcasts');
    const norm = (list) =>
      list.map(([who, x]) => [who, Buffer.isBuffer(x) || x instanceof ArrayBuffer ? [...Buffer.from(x)] : x]).sort();
    expectEqual(norm(got2), norm(got4), 'v2 and v4 got the same broadcasts');
    expectEqual(norm(got2), [['from v2', [7]], ['from v4', { n: 1 }]], 'the broadcasts');
    // The room's members, seen from the server.
    const [ids] = await v2.emitAck('fetch', room);
    expectEqual(ids, [v2.socket.id, v4.id].sort(), 'fetch the room');
    v4.close();
    v2.expectTransport();
  },

  async 'connect-error'() {
    const refused = Client.open('refused', '/mw', { token: 'wrong' });
    // socket.io 4 answers a v2 client's refused middleware with its data.
    await until(() => refused.errors.length > 0, 'the refusal');
    expectEqual(refused.errors[0], { reason: 'token' }, 'the refusal');
    expectEqual(refused.socket.connected, false, 'not connected');
    const unknown = Client.open('unknown', '/nowhere');
    await until(() => unknown.errors.length > 0, 'the refusal of an unknown namespace');
    expectEqual(unknown.errors[0], { message: 'Invalid namespace' }, 'an unknown namespace');
  },

  async 'server-disconnect'() {
    const c = Client.open('server-disconnect');
    await c.connected();
    await c.next('auth');
    await c.upgraded();
    c.socket.emit('server-disconnect');
    await until(() => c.disconnects.length > 0, 'the disconnect');
    expectEqual(c.disconnects[0], 'io server disconnect', 'the reason');
  },

  async reconnect() {
    const c = Client.open('reconnect');
    await c.connected();
    await c.next('auth');
    await c.upgraded();
    const first = c.socket.io.engine.id;
    c.socket.emit('drop-transport');
    await until(() => c.disconnects.length > 0, 'the drop');
    await until(() => c.connects >= 2 && c.socket.connected, 'the reconnection');
    if (c.socket.io.engine.id === first) fail('reconnect: same engine session after the drop');
    expectEqual(await c.next('auth'), [{}], 'auth after reconnecting');
    c.socket.emit('message', 'again');
    expectEqual(await c.next('message-back'), ['again'], 'message after reconnecting');
  },
};

function usage() {
  console.error(`usage: node socket-client-v2.mjs <${[...Object.keys(SCENARIOS), 'all'].join('|')}> <${MODES.join('|')}> <baseUrl>`);
  process.exit(2);
}

async function main() {
  const [scenario, mode, baseUrl] = process.argv.slice(2);
  if (!scenario || !MODES.includes(mode) || !/^https?:\/\//.test(baseUrl ?? '')) usage();
  if (scenario !== 'all' && !(scenario in SCENARIOS)) usage();
  MODE = mode;
  BASE_URL = baseUrl;
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
      try {
        await SCENARIOS[name]();
      } finally {
        closeAll();
      }
      console.log(`ok ${name}`);
    }
  } catch (err) {
    console.log(`FAIL ${current}: ${err instanceof Failure ? err.message : err?.stack ?? String(err)}`);
    process.exit(1);
  }
  clearTimeout(watchdog);
  setTimeout(() => process.exit(0), 500).unref();
}

main();
