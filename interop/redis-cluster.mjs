#!/usr/bin/env node
// Drives one side of a cluster test for rally-redis and rally-postgres:
// official socket.io-client 4.8.4 clients, optionally a Node.js socket.io
// 4.8.4 node with @socket.io/redis-adapter 8.3.0 (or
// @socket.io/redis-streams-adapter 0.3.1, or, on Postgres,
// @socket.io/postgres-adapter 0.5.0), and an @socket.io/redis-emitter 5.1.0
// (on Postgres, @socket.io/postgres-emitter 0.1.1), all on one Redis (or
// Postgres).
//
// Usage: node redis-cluster.mjs <redisUrl | postgresUrl>
//
// A line protocol, one JSON object a line. Commands on stdin:
//   {"cmd":"client","name":"c1","url":"http://127.0.0.1:3000","rooms":["r1"],"parser":"msgpack",
//    "transports":["polling"],"upgrade":false,"reconnection":true}
//       connects a client (websocket only unless "transports" says
//       otherwise; no reconnection unless asked) with auth {name, rooms},
//       with socket.io-msgpack-parser when "parser" is "msgpack";
//       answers {"ok":"client","name":"c1","id":"<socket id>","transport":"polling"}
//       on every connection, and {"event":"upgraded","client":"c1","transport":"websocket"}
//   {"cmd":"emit","client":"c1","ev":"join","args":["lobby"]}
//       client c1 emits, asking for an ack: {"event":"ack","client":"c1","args":[...]}
//   {"cmd":"serve","port":0,"mode":"classic"|"sharded"|"streams"|"postgres","recovery":false,"streamCount":1,"parser":"msgpack"}
//       starts the Node.js node (with socket.io-msgpack-parser when "parser"
//       is "msgpack"); answers {"ok":"serve","port":<port>}. With
//       "recovery" (streams mode), connection state recovery is on (ping
//       every 300 ms, timeout 200 ms) and the node also serves the recovery
//       tests' events: "welcome" {id, recovered} on connection, "join"
//       [room, name] (joins, sets data {name}, answers the room) and
//       "whoami" (answers {id, rooms (sorted), data, recovered}).
//   {"cmd":"op","id":7,"op":"<op>",...}  an operation on the Node.js node;
//       answers {"ok":"op","id":7,"result":...} or {"error":"...","id":7}
//       ops: emit {nsp, rooms, except, ev, args}, emitWithAck {rooms, ev, timeout},
//       fetch {rooms}, serverSideEmit {ev, args}, serverSideEmitWithAck {ev, args},
//       socketsJoin {rooms, join}, socketsLeave {rooms, leave},
//       disconnectSockets {rooms, close}, serverCount, allRooms
//   {"cmd":"emitter","id":8,"op":"emit"|"socketsJoin"|"disconnectSockets"|"serverSideEmit",...}
//       the same through @socket.io/redis-emitter (classic channels), or
//       @socket.io/postgres-emitter on Postgres
// Events on stdout:
//   {"event":"<ev>","client":"c1","args":[...]}  an event a client got; binary
//       arguments as {"bin":[bytes]}; a client answers acks with "<name>-ack"
//   {"event":"disconnect","client":"c1","reason":"..."}
// Binary in command arguments is written {"bin":[bytes]} too.
// The Node.js node (namespaces / and /admin): socket.data = {name}, joins auth.rooms, and answers the
// server-side event "hello" with "ack-from-node".

import { createInterface } from 'node:readline';
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { io as connect } from 'socket.io-client';
import msgpackParser from 'socket.io-msgpack-parser';
import { createClient } from 'redis';
import { createAdapter, createShardedAdapter } from '@socket.io/redis-adapter';
import { createAdapter as createStreamsAdapter } from '@socket.io/redis-streams-adapter';
import { Emitter } from '@socket.io/redis-emitter';
import pg from 'pg';
import { createAdapter as createPostgresAdapter } from '@socket.io/postgres-adapter';
import { Emitter as PostgresEmitter } from '@socket.io/postgres-emitter';

const redisUrl = process.argv[2];
if (!redisUrl) {
  console.error('usage: node redis-cluster.mjs <redisUrl>');
  process.exit(2);
}

const onPostgres = redisUrl.startsWith('postgres');
const clients = new Map();
const redisClients = [];
const pools = [];
let node = null;
let emitter = null;

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

// Buffers become {"bin":[...]} and back.
function toWire(value) {
  if (Buffer.isBuffer(value) || value instanceof ArrayBuffer || ArrayBuffer.isView(value)) {
    return { bin: [...Buffer.from(value instanceof ArrayBuffer ? new Uint8Array(value) : value)] };
  }
  if (Array.isArray(value)) return value.map(toWire);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toWire(v)]));
  }
  return value;
}

function fromWire(value) {
  if (Array.isArray(value)) return value.map(fromWire);
  if (value && typeof value === 'object') {
    if (Array.isArray(value.bin) && Object.keys(value).length === 1) return Buffer.from(value.bin);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fromWire(v)]));
  }
  return value;
}

function postgresPool() {
  const pool = new pg.Pool({ connectionString: redisUrl, max: 4 });
  pool.on('error', () => {});
  pools.push(pool);
  return pool;
}

async function redisPair() {
  const pub = createClient({ url: redisUrl });
  const sub = pub.duplicate();
  for (const c of [pub, sub]) {
    c.on('error', () => {});
    redisClients.push(c);
  }
  await Promise.all([pub.connect(), sub.connect()]);
  return [pub, sub];
}

function addClient({ name, url, rooms, parser, transports, upgrade, reconnection }) {
  const socket = connect(url, {
    transports: transports || ['websocket'],
    upgrade: upgrade !== false,
    forceNew: true,
    auth: { name, rooms: rooms || [] },
    reconnection: !!reconnection,
    reconnectionDelay: 100,
    reconnectionDelayMax: 500,
    ...parserOption(parser),
  });
  clients.set(name, socket);
  socket.io.on('open', () => {
    socket.io.engine.on('upgrade', (t) => out({ event: 'upgraded', client: name, transport: t.name }));
  });
  socket.on('connect', () => out({ ok: 'client', name, id: socket.id, transport: socket.io.engine.transport.name }));
  socket.on('connect_error', (err) => out({ event: 'connect_error', client: name, message: err.message }));
  socket.on('disconnect', (reason) => out({ event: 'disconnect', client: name, reason }));
  socket.onAny((ev, ...args) => {
    const ack = typeof args[args.length - 1] === 'function' ? args.pop() : null;
    out({ event: ev, client: name, args: toWire(args) });
    if (ack) ack(`${name}-ack`);
  });
}

/** The client or server option for a parser name. */
function parserOption(parser) {
  return parser === 'msgpack' ? { parser: msgpackParser } : {};
}

async function serve({ port, mode, recovery, streamCount, parser }) {
  let adapter;
  if (mode === 'postgres') adapter = createPostgresAdapter(postgresPool());
  else if (mode === 'streams') adapter = createStreamsAdapter((await redisPair())[0], { streamCount: streamCount || 1 });
  else if (mode === 'sharded') adapter = createShardedAdapter(...(await redisPair()));
  else adapter = createAdapter(...(await redisPair()));
  const http = createServer();
  const options = recovery
    ? { adapter, pingInterval: 300, pingTimeout: 200, connectionStateRecovery: {}, ...parserOption(parser) }
    : { adapter, ...parserOption(parser) };
  node = new Server(http, options);
  for (const nsp of ['/', '/admin']) {
    node.of(nsp).on('connection', (socket) => {
      if (recovery) {
        socket.emit('welcome', { id: socket.id, recovered: socket.recovered });
        socket.on('join', (room, name, ack) => {
          socket.join(room);
          socket.data = { name };
          ack(room);
        });
        socket.on('whoami', (ack) => {
          ack({ id: socket.id, rooms: [...socket.rooms].sort(), data: socket.data, recovered: socket.recovered });
        });
      }
      if (socket.recovered) return;
      const auth = socket.handshake.auth || {};
      socket.data = { name: auth.name };
      for (const room of auth.rooms || []) socket.join(room);
    });
  }
  node.of('/').on('hello', (...args) => {
    const ack = typeof args[args.length - 1] === 'function' ? args.pop() : null;
    out({ event: 'server-event', client: 'node', args: toWire(args) });
    if (ack) ack('ack-from-node');
  });
  await new Promise((resolve) => http.listen(port || 0, '127.0.0.1', resolve));
  out({ ok: 'serve', port: http.address().port });
}

function target(base, { rooms, except }) {
  let op = base;
  for (const room of rooms || []) op = op.to(room);
  for (const room of except || []) op = op.except(room);
  return op;
}

async function operate(cmd) {
  const io = node;
  switch (cmd.op) {
    case 'emit':
      target(cmd.nsp ? io.of(cmd.nsp) : io, cmd).emit(cmd.ev, ...fromWire(cmd.args || []));
      return null;
    case 'emitWithAck': {
      const answers = await target(io, cmd).timeout(cmd.timeout || 2000).emitWithAck(cmd.ev, ...fromWire(cmd.args || []));
      return answers.sort();
    }
    case 'fetch': {
      const sockets = await target(io, cmd).fetchSockets();
      return sockets
        .map((s) => ({ id: s.id, name: s.data && s.data.name, rooms: [...s.rooms].sort(), hasHandshake: !!s.handshake }))
        .sort((a, b) => String(a.name).localeCompare(String(b.name)));
    }
    case 'remoteEmit': {
      // fetchSockets, then emit to one of them by name.
      const sockets = await io.fetchSockets();
      const s = sockets.find((s) => s.data && s.data.name === cmd.name);
      if (!s) throw new Error(`no socket named ${cmd.name}`);
      s.emit(cmd.ev, ...fromWire(cmd.args || []));
      return s.id;
    }
    case 'serverSideEmit':
      io.serverSideEmit(cmd.ev, ...fromWire(cmd.args || []));
      return null;
    case 'serverSideEmitWithAck': {
      const answers = await io.serverSideEmitWithAck(cmd.ev, ...fromWire(cmd.args || []));
      return answers.sort();
    }
    case 'socketsJoin':
      target(io, cmd).socketsJoin(cmd.join);
      return null;
    case 'socketsLeave':
      target(io, cmd).socketsLeave(cmd.leave);
      return null;
    case 'disconnectSockets':
      target(io, cmd).disconnectSockets(!!cmd.close);
      return null;
    case 'serverCount':
      return await io.of('/').adapter.serverCount();
    case 'allRooms':
      return [...(await io.of('/').adapter.allRooms())].sort();
    default:
      throw new Error(`unknown op ${cmd.op}`);
  }
}

async function emit(cmd) {
  if (!emitter) {
    emitter = onPostgres ? new PostgresEmitter(postgresPool()) : new Emitter((await redisPair())[0]);
  }
  switch (cmd.op) {
    case 'emit':
      target(emitter, cmd).emit(cmd.ev, ...fromWire(cmd.args || []));
      return null;
    case 'socketsJoin':
      target(emitter, cmd).socketsJoin(cmd.join);
      return null;
    case 'disconnectSockets':
      target(emitter, cmd).disconnectSockets(!!cmd.close);
      return null;
    case 'serverSideEmit':
      emitter.serverSideEmit(cmd.ev, ...fromWire(cmd.args || []));
      return null;
    default:
      throw new Error(`unknown emitter op ${cmd.op}`);
  }
}

const lines = createInterface({ input: process.stdin });
lines.on('line', async (line) => {
  if (!line.trim()) return;
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch {
    out({ error: `bad line: ${line}` });
    return;
  }
  try {
    if (cmd.cmd === 'client') addClient(cmd);
    else if (cmd.cmd === 'emit') {
      clients.get(cmd.client).emit(cmd.ev, ...fromWire(cmd.args || []), (...args) => {
        out({ event: 'ack', client: cmd.client, args: toWire(args) });
      });
    }
    else if (cmd.cmd === 'serve') await serve(cmd);
    else if (cmd.cmd === 'op') out({ ok: 'op', id: cmd.id, result: toWire(await operate(cmd)) });
    else if (cmd.cmd === 'emitter') out({ ok: 'op', id: cmd.id, result: toWire(await emit(cmd)) });
    else out({ error: `unknown command ${cmd.cmd}`, id: cmd.id });
  } catch (err) {
    out({ error: String(err && err.message ? err.message : err), id: cmd.id });
  }
});
// The test closes stdin to end the run.
lines.on('close', async () => {
  for (const socket of clients.values()) socket.disconnect();
  if (node) node.close();
  for (const c of redisClients) {
    try {
      await c.quit();
    } catch {
      // already closed
    }
  }
  for (const pool of pools) {
    try {
      await pool.end();
    } catch {
      // already closed
    }
  }
  process.exit(0);
});
