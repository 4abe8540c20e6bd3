#!/usr/bin/env node
// The Socket.IO Admin UI's side of its protocol (@socket.io/admin-ui 0.5.1),
// played with the official `socket.io-client` (4.8.4) against a server
// instrumented for it, while other clients connect, join rooms, emit, upgrade
// and disconnect.
//
// Usage: node admin-client.mjs <scenario> <baseUrl> [args...]
//
// Scenarios (the server's `/` namespace answers `hello` by joining the room
// `lobby`, emitting `welcome` and acknowledging with `hi`):
// - watch: no auth, development mode: config, all_sockets, server_stats,
//   socket_connected, socket_updated (upgrade, data), room_joined, room_left,
//   event_received, event_sent, socket_disconnected; then each command
//   (emit, join, leave, _disconnect by id and by room) takes effect.
// - auth <user> <password>: a wrong password gets connect_error `invalid
//   credentials`; the right one connects and gets `session`; that session id
//   alone connects again.
// - readonly: config lists no command, and `_disconnect` does nothing.
// - production: config without ALL_EVENTS, no per-socket events, and the
//   statistics still count the sockets and events.
// - cluster <url2>: two clients on each node (the server joins them to the
//   rooms of their auth, {name, rooms}); a UI on either node lists all four
//   in `all_sockets` and hears both servers' `server_stats`; a socket that
//   connects to one node is shown by the UI of the other, whose commands
//   (join, _disconnect) reach it.
// - server-id <id>: the server's `server_stats` give `serverId` <id>.
// Exit status 0 and a final line "ok <scenario>" on success; otherwise a
// "FAIL <scenario>: <reason>" line and exit status 1; a usage error exits
// with 2. Every wait is bounded by a deadline.

import { io } from 'socket.io-client';

const WAIT_MS = 8_000;

class Failure extends Error {}

function fail(message) {
  throw new Failure(message);
}

function check(cond, message) {
  if (!cond) fail(message);
}

/// Every event a socket receives, kept, and waited for with a deadline.
class Recorder {
  constructor(socket) {
    this.socket = socket;
    this.seen = [];
    this.waiters = [];
    socket.onAny((...args) => this.push(args));
    for (const name of ['connect', 'connect_error', 'disconnect']) {
      socket.on(name, (...args) => this.push([name, ...args]));
    }
  }

  push(event) {
    this.seen.push(event);
    this.waiters = this.waiters.filter((w) => !w(event));
  }

  /// The first event named `name` for which `test(...args)` holds, seen
  /// already or to come.
  wait(name, test = () => true, what = name) {
    const found = this.seen.find(([n, ...args]) => n === name && test(...args));
    if (found) return Promise.resolve(found.slice(1));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Failure(`no ${what} within ${WAIT_MS} ms (seen: ${this.names()})`)),
        WAIT_MS,
      );
      this.waiters.push(([n, ...args]) => {
        if (n !== name || !test(...args)) return false;
        clearTimeout(timer);
        resolve(args);
        return true;
      });
    });
  }

  /// Forgets what was seen so far.
  clear() {
    this.seen = [];
  }

  names() {
    return [...new Set(this.seen.map(([n]) => n))].join(', ');
  }
}

function admin(url, auth = {}, transports = ['polling', 'websocket']) {
  const socket = io(`${url}/admin`, { forceNew: true, reconnection: false, auth, transports });
  return { socket, events: new Recorder(socket) };
}

function client(url, options = {}) {
  const socket = io(url, { forceNew: true, reconnection: false, ...options });
  return { socket, events: new Recorder(socket) };
}

const isDate = (d) => typeof d === 'string' && !Number.isNaN(Date.parse(d));

async function connected(who, what) {
  const [name, err] = await Promise.race([
    who.events.wait('connect').then(() => ['connect']),
    who.events.wait('connect_error').then(([e]) => ['connect_error', e]),
  ]);
  check(name === 'connect', `${what}: connect_error ${err?.message}`);
}

async function watch(url) {
  const ui = admin(url);
  await connected(ui, 'the UI');
  const [config] = await ui.events.wait('config');
  const features = config.supportedFeatures;
  for (const f of ['EMIT', 'JOIN', 'LEAVE', 'DISCONNECT', 'MJOIN', 'MLEAVE', 'MDISCONNECT', 'AGGREGATED_EVENTS', 'ALL_EVENTS']) {
    check(features.includes(f), `feature ${f} missing from ${JSON.stringify(features)}`);
  }
  const [all] = await ui.events.wait('all_sockets');
  check(Array.isArray(all), 'all_sockets is not a list');
  const self = all.find((s) => s.id === ui.socket.id);
  check(self && self.nsp === '/admin', `the UI is not in all_sockets: ${JSON.stringify(all)}`);
  check(self.handshake && !('auth' in self.handshake), 'a handshake shows its auth');
  const [stats] = await ui.events.wait('server_stats');
  for (const key of ['serverId', 'hostname', 'pid', 'uptime', 'clientsCount', 'pollingClientsCount', 'aggregatedEvents', 'namespaces']) {
    check(key in stats, `server_stats without ${key}: ${JSON.stringify(stats)}`);
  }
  check(stats.namespaces.some((n) => n.name === '/admin' && n.socketsCount >= 1), `namespaces: ${JSON.stringify(stats.namespaces)}`);

  // A client on polling that upgrades.
  const a = client(url);
  await connected(a, 'client a');
  const [shown, at] = await ui.events.wait('socket_connected', (s) => s.id === a.socket.id, 'socket_connected of a');
  check(shown.nsp === '/' && isDate(at), `socket_connected: ${JSON.stringify([shown, at])}`);
  check(shown.clientId === a.socket.io.engine.id.slice(0, 12), `clientId ${shown.clientId}`);
  check(shown.transport === 'polling', `transport ${shown.transport}`);
  check(shown.rooms.includes(a.socket.id), `rooms ${shown.rooms}`);
  check(typeof shown.handshake.address === 'string' && shown.handshake.url, `handshake ${JSON.stringify(shown.handshake)}`);
  await ui.events.wait('socket_updated', (u) => u.id === a.socket.id && u.transport === 'websocket', 'the upgrade of a');

  // An event in, a room joined, an event out, data set.
  const reply = await a.socket.timeout(WAIT_MS).emitWithAck('hello', { n: 1 });
  check(reply === 'hi', `ack ${reply}`);
  const [nsp, id, args, when] = await ui.events.wait('event_received', (n, i) => i === a.socket.id, 'event_received');
  check(nsp === '/' && args[0] === 'hello' && args[1].n === 1 && isDate(when), `event_received ${JSON.stringify(args)}`);
  await ui.events.wait('room_joined', (n, room, i) => n === '/' && room === 'lobby' && i === a.socket.id, 'room_joined lobby');
  const [, , sent] = await ui.events.wait('event_sent', (n, i, args) => i === a.socket.id && args[0] === 'welcome', 'event_sent welcome');
  check(sent[1] === 'to the lobby', `event_sent ${JSON.stringify(sent)}`);
  await ui.events.wait('socket_updated', (u) => u.id === a.socket.id && u.data?.name === 'a', 'socket_updated data');

  // Commands: emit to one socket, to a room, to the namespace.
  const b = client(url, { transports: ['websocket'] });
  await connected(b, 'client b');
  await ui.events.wait('socket_connected', (s) => s.id === b.socket.id, 'socket_connected of b');
  ui.socket.emit('emit', '/', a.socket.id, 'direct', 1, 'two');
  const [one, two] = await a.events.wait('direct');
  check(one === 1 && two === 'two', `direct ${one} ${two}`);
  ui.socket.emit('emit', '/', 'lobby', 'lobby-news');
  await a.events.wait('lobby-news');
  ui.socket.emit('emit', '/', undefined, 'everyone', { all: true });
  await a.events.wait('everyone');
  await b.events.wait('everyone');
  check(!b.events.seen.some(([n]) => n === 'lobby-news' || n === 'direct'), 'b got what was meant for a');

  // join and leave, by socket id and by room.
  ui.socket.emit('join', '/', 'vip', b.socket.id);
  await ui.events.wait('room_joined', (n, room, i) => room === 'vip' && i === b.socket.id, 'room_joined vip');
  ui.socket.emit('join', '/', 'all-of-lobby', 'lobby');
  await ui.events.wait('room_joined', (n, room, i) => room === 'all-of-lobby' && i === a.socket.id, 'room_joined all-of-lobby');
  ui.socket.emit('leave', '/', 'vip', b.socket.id);
  await ui.events.wait('room_left', (n, room, i) => room === 'vip' && i === b.socket.id, 'room_left vip');
  ui.socket.emit('emit', '/', 'vip', 'vip-news');
  ui.socket.emit('emit', '/', b.socket.id, 'after-leave');
  await b.events.wait('after-leave');
  check(!b.events.seen.some(([n]) => n === 'vip-news'), 'b still got the room it left');

  // _disconnect by id; a client leaving by itself.
  // (A client forgets its id once disconnected.)
  const [aId, bId] = [a.socket.id, b.socket.id];
  ui.socket.emit('_disconnect', '/', false, bId);
  const [reason] = await b.events.wait('disconnect');
  check(reason === 'io server disconnect', `b: ${reason}`);
  const [, , why, gone] = await ui.events.wait('socket_disconnected', (n, i) => i === bId, 'socket_disconnected of b');
  check(why === 'server namespace disconnect' && isDate(gone), `b left for ${why}`);
  await ui.events.wait('room_left', (n, room, i) => room === bId && i === bId, 'room_left of b');
  a.socket.disconnect();
  const [, , whyA] = await ui.events.wait('socket_disconnected', (n, i) => i === aId, 'socket_disconnected of a');
  check(whyA === 'client namespace disconnect', `a left for ${whyA}`);

  // _disconnect of a whole namespace, with close.
  const c = client(url, { transports: ['websocket'] });
  await connected(c, 'client c');
  ui.socket.emit('_disconnect', '/', true);
  const [reasonC] = await c.events.wait('disconnect');
  check(reasonC === 'io server disconnect' || reasonC === 'transport close', `c: ${reasonC}`);
  const later = await nextStats(ui);
  check(later.namespaces.some((n) => n.name === '/' && n.socketsCount === 0), `after: ${JSON.stringify(later.namespaces)}`);
  check(later.aggregatedEvents.every((e) => typeof e.timestamp === 'number' && e.count > 0), 'aggregated events');
  ui.socket.disconnect();
}

/// The next server_stats, sent after this call.
async function nextStats(ui) {
  ui.events.clear();
  const [stats] = await ui.events.wait('server_stats');
  return stats;
}

async function auth(url, user, password) {
  const wrong = admin(url, { username: user, password: `${password}-not` });
  const [err] = await wrong.events.wait('connect_error');
  check(err.message === 'invalid credentials', `wrong password: ${err.message}`);
  wrong.socket.close();
  const nobody = admin(url, {});
  const [err2] = await nobody.events.wait('connect_error');
  check(err2.message === 'invalid credentials', `no credentials: ${err2.message}`);
  nobody.socket.close();

  const right = admin(url, { username: user, password });
  await connected(right, 'the right password');
  const [sessionId] = await right.events.wait('session');
  check(typeof sessionId === 'string' && sessionId.length >= 16, `session ${sessionId}`);
  await right.events.wait('config');
  right.socket.close();

  const restored = admin(url, { sessionId });
  await connected(restored, 'the session id');
  await restored.events.wait('config');
  check(!restored.events.seen.some(([n]) => n === 'session'), 'a new session for a restored one');
  restored.socket.close();

  const forged = admin(url, { sessionId: 'not-a-session' });
  const [err3] = await forged.events.wait('connect_error');
  check(err3.message === 'invalid credentials', `forged session: ${err3.message}`);
  forged.socket.close();
}

async function readonly(url) {
  const ui = admin(url);
  await connected(ui, 'the UI');
  const [config] = await ui.events.wait('config');
  check(JSON.stringify(config.supportedFeatures) === '["AGGREGATED_EVENTS","ALL_EVENTS"]', `features ${JSON.stringify(config.supportedFeatures)}`);
  const a = client(url, { transports: ['websocket'] });
  await connected(a, 'client a');
  await ui.events.wait('socket_connected', (s) => s.id === a.socket.id, 'socket_connected of a');
  ui.socket.emit('_disconnect', '/', true, a.socket.id);
  ui.socket.emit('emit', '/', a.socket.id, 'refused');
  ui.socket.emit('join', '/', 'refused-room', a.socket.id);
  // The commands are on the wire before these: the server has read them.
  await nextStats(ui);
  await nextStats(ui);
  check(a.socket.connected, 'a read-only UI disconnected a socket');
  const reply = await a.socket.timeout(WAIT_MS).emitWithAck('hello', {});
  check(reply === 'hi', `ack ${reply}`);
  check(!a.events.seen.some(([n]) => n === 'refused'), 'a read-only UI emitted');
  check(!ui.events.seen.some(([n, , room]) => n === 'room_joined' && room === 'refused-room'), 'a read-only UI joined a room');
  a.socket.close();
  ui.socket.close();
}

async function production(url) {
  const ui = admin(url);
  await connected(ui, 'the UI');
  const [config] = await ui.events.wait('config');
  check(!config.supportedFeatures.includes('ALL_EVENTS') && config.supportedFeatures.includes('AGGREGATED_EVENTS'), `features ${JSON.stringify(config.supportedFeatures)}`);
  const a = client(url, { transports: ['websocket'] });
  await connected(a, 'client a');
  const reply = await a.socket.timeout(WAIT_MS).emitWithAck('hello', {});
  check(reply === 'hi', `ack ${reply}`);
  let stats = await nextStats(ui);
  const deadline = Date.now() + WAIT_MS;
  while (!stats.namespaces.some((n) => n.name === '/' && n.socketsCount === 1)) {
    check(Date.now() < deadline, `namespaces ${JSON.stringify(stats.namespaces)}`);
    stats = await nextStats(ui);
  }
  check(stats.clientsCount >= 2, `clientsCount ${stats.clientsCount}`);
  const verbose = ['all_sockets', 'socket_connected', 'room_joined', 'event_received', 'event_sent'];
  check(!ui.events.seen.some(([n]) => verbose.includes(n)), `production sent ${ui.events.names()}`);
  a.socket.close();
  ui.socket.close();
}

async function cluster(url, url2) {
  // Two clients on each node, in a room.
  const clients = [];
  for (const [at, name] of [[url, 'r1'], [url, 'r2'], [url2, 'n1'], [url2, 'n2']]) {
    const c = client(at, { transports: ['websocket'], auth: { name, rooms: ['shared'] } });
    await connected(c, `client ${name}`);
    clients.push(c);
  }
  const ids = clients.map((c) => c.socket.id);
  const one = admin(url);
  const two = admin(url2);
  await connected(one, 'the UI on node 1');
  await connected(two, 'the UI on node 2');
  for (const [label, ui] of [['node 1', one], ['node 2', two]]) {
    const [all] = await ui.events.wait('all_sockets');
    const listed = all.filter((s) => s.nsp === '/');
    for (const id of ids) {
      const s = listed.find((x) => x.id === id);
      check(s, `the UI on ${label}: ${id} missing from all_sockets ${JSON.stringify(listed.map((x) => x.id))}`);
      check(typeof s.clientId === 'string' && s.clientId.length > 0 && s.transport === 'websocket', `the UI on ${label}: ${JSON.stringify(s)}`);
      check(s.rooms.includes('shared') && typeof s.data.name === 'string' && !('_admin' in s.data), `the UI on ${label}: ${JSON.stringify(s)}`);
    }
    // Both servers' statistics.
    const servers = new Set();
    const deadline = Date.now() + WAIT_MS;
    while (servers.size < 2) {
      check(Date.now() < deadline, `the UI on ${label} heard the server_stats of ${[...servers]} only`);
      const [stats] = await ui.events.wait('server_stats', (s) => !servers.has(s.serverId), `server_stats of a second node on ${label}`);
      servers.add(stats.serverId);
    }
  }
  // A socket connecting to node 2 is shown by the UI of node 1, which makes
  // it join a room and then disconnects it.
  const c = client(url2, { transports: ['websocket'], auth: { name: 'late' } });
  await connected(c, 'client late');
  const cId = c.socket.id;
  await one.events.wait('socket_connected', (s) => s.id === cId, 'socket_connected of a socket of node 2');
  one.socket.emit('join', '/', 'moved', cId);
  await one.events.wait('room_joined', (n, room, i) => room === 'moved' && i === cId, 'room_joined on node 2');
  one.socket.emit('_disconnect', '/', false, cId);
  await c.events.wait('disconnect');
  await one.events.wait('socket_disconnected', (n, i) => i === cId, 'socket_disconnected on node 2');
  // And the other way round.
  two.socket.emit('_disconnect', '/', false, ids[0]);
  await clients[0].events.wait('disconnect');
  await two.events.wait('socket_disconnected', (n, i) => i === ids[0], 'socket_disconnected on node 1');
  for (const x of [one, two, ...clients]) x.socket.close();
}

async function serverId(url, expected) {
  check(expected, 'server-id needs the expected id');
  const ui = admin(url);
  await connected(ui, 'the UI');
  const [stats] = await ui.events.wait('server_stats');
  check(stats.serverId === expected, `serverId ${JSON.stringify(stats.serverId)}, expected ${JSON.stringify(expected)}`);
  ui.socket.close();
}

const scenarios = { watch, auth, readonly, production, cluster, 'server-id': serverId };
const [scenario, url, ...rest] = process.argv.slice(2);
if (!scenarios[scenario] || !url) {
  console.error(`usage: node admin-client.mjs <${Object.keys(scenarios).join('|')}> <baseUrl> [args...]`);
  process.exit(2);
}
try {
  await scenarios[scenario](url, ...rest);
  console.log(`ok ${scenario}`);
  process.exit(0);
} catch (e) {
  console.log(`FAIL ${scenario}: ${e instanceof Failure ? e.message : e.stack}`);
  process.exit(1);
}
