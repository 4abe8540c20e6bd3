#!/usr/bin/env node
// A Node.js socket.io 4.8.4 node of a Redis cluster (@socket.io/redis-adapter
// in classic or sharded mode, or @socket.io/redis-streams-adapter), instrumented for the Admin UI with @socket.io/admin-ui
// 0.5.1's `instrument` (no auth, development mode): the Node side of a mixed
// Rally + Node.js cluster watched by one UI.
//
// Usage: node ref-admin-server.mjs <port> <redisUrl> <serverId> [classic|sharded|streams]
// (port 0: a free one). Prints "listening <port>" once it serves; its `/`
// sockets get the data {name} and join the rooms of their auth
// ({name, rooms}).

import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { createClient } from 'redis';
import { createAdapter, createShardedAdapter } from '@socket.io/redis-adapter';
import { createAdapter as createStreamsAdapter } from '@socket.io/redis-streams-adapter';
import { instrument } from '@socket.io/admin-ui';

const [port, redisUrl, serverId, mode = 'classic'] = process.argv.slice(2);
if (port === undefined || !redisUrl || !serverId || !['classic', 'sharded', 'streams'].includes(mode)) {
  console.error('usage: node ref-admin-server.mjs <port> <redisUrl> <serverId> [classic|sharded|streams]');
  process.exit(2);
}

const pub = createClient({ url: redisUrl });
const sub = pub.duplicate();
for (const c of [pub, sub]) c.on('error', (e) => console.error(`redis: ${e.message}`));
await Promise.all([pub.connect(), sub.connect()]);

const http = createServer();
const adapter = mode === 'streams'
  ? createStreamsAdapter(pub)
  : mode === 'sharded' ? createShardedAdapter(pub, sub) : createAdapter(pub, sub);
const io = new Server(http, { adapter });
io.on('connection', (socket) => {
  const { name, rooms } = socket.handshake.auth;
  socket.data.name = name;
  for (const room of rooms || []) socket.join(room);
});
instrument(io, { auth: false, serverId, mode: 'development' });

http.listen(Number(port), '127.0.0.1', () => {
  console.log(`listening ${http.address().port}`);
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => process.exit(0));
}
