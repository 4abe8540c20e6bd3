#!/usr/bin/env node
// A Node.js socket.io 4.8.4 node of a Redis cluster (@socket.io/redis-adapter,
// classic mode), instrumented for the Admin UI with @socket.io/admin-ui
// 0.5.1's `instrument` (no auth, development mode): the Node side of a mixed
// Rally + Node.js cluster watched by one UI.
//
// Usage: node ref-admin-server.mjs <port> <redisUrl> <serverId>
// (port 0: a free one). Prints "listening <port>" once it serves; its `/`
// sockets get the data {name} and join the rooms of their auth
// ({name, rooms}).

import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { createClient } from 'redis';
import { createAdapter } from '@socket.io/redis-adapter';
import { instrument } from '@socket.io/admin-ui';

const [port, redisUrl, serverId] = process.argv.slice(2);
if (port === undefined || !redisUrl || !serverId) {
  console.error('usage: node ref-admin-server.mjs <port> <redisUrl> <serverId>');
  process.exit(2);
}

const pub = createClient({ url: redisUrl });
const sub = pub.duplicate();
for (const c of [pub, sub]) c.on('error', (e) => console.error(`redis: ${e.message}`));
await Promise.all([pub.connect(), sub.connect()]);

const http = createServer();
const io = new Server(http, { adapter: createAdapter(pub, sub) });
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
