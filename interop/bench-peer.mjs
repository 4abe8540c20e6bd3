#!/usr/bin/env node
// The Node.js peer server for rally-bench: the official `socket.io` 4.8.4 with
// its default `ws` engine and default options.
//
// The bench protocol: namespace "/"; `echo` is acked with its own arguments;
// `join(room)` joins the room and is acked with the room; `bcast(room, payload)`
// emits `bcast(payload)` to every socket in the room (the sender included).
//
// With RALLY_BENCH_PER_MESSAGE_DEFLATE=1 in the environment (rally-bench's
// compression scenario), WebSocket compression is on: `perMessageDeflate: true`,
// that is `ws`'s defaults (threshold 1024 bytes).
//
// Usage: node bench-peer.mjs <port>      Prints "listening <port>" when ready.

import http from 'node:http';
import { Server } from 'socket.io';

const port = Number(process.argv[2]);
if (!Number.isInteger(port)) {
  console.error('usage: node bench-peer.mjs <port>');
  process.exit(2);
}

const httpServer = http.createServer();
const perMessageDeflate = process.env.RALLY_BENCH_PER_MESSAGE_DEFLATE === '1';
const io = new Server(httpServer, { perMessageDeflate });

io.on('connection', (socket) => {
  socket.on('echo', (...args) => {
    const ack = args.pop();
    if (typeof ack === 'function') ack(...args);
  });
  socket.on('join', (room, ack) => {
    socket.join(room);
    if (typeof ack === 'function') ack(room);
  });
  socket.on('bcast', (room, payload) => {
    io.to(room).emit('bcast', payload);
  });
});

httpServer.listen(port, '127.0.0.1', () => {
  console.log(`listening ${port}`);
});
