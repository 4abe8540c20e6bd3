#!/usr/bin/env node
// Reference Socket.IO server with connection state recovery on, built on the
// official `socket.io` package (4.8.4), for the Rust client's recovery tests.
//
// Same settings as ref-socket-server.mjs (path /socket.io/, pingInterval
// 300 ms, pingTimeout 200 ms, connectTimeout 1000 ms, maxHttpBufferSize 1e6),
// plus connectionStateRecovery {maxDisconnectionDuration: 10000,
// skipMiddlewares: true}. With recovery on, every event the server emits
// without an ack ends with its offset (a string argument).
//
// Namespace "/" only:
//   on connection: emits "welcome" ({id, recovered}) to the socket.
//   "broadcast" (event, ...args): io.emit(event, ...args), sender included.
//   "drop-then-broadcast" (event, ...args): closes the engine connection
//     (the client sees "transport close"); once the server has seen the
//     socket go, io.emit(event, ...args), which the client misses and gets
//     replayed when it reconnects with its {pid, offset}.
//
// Usage: node ref-recovery-server.mjs <port>     (port 0 picks a free port)
// Prints "listening <port>", then one line per connection and disconnection.

import http from 'node:http';
import { Server } from 'socket.io';

const portArg = process.argv[2];
if (portArg === undefined || !/^\d+$/.test(portArg)) {
  console.error('usage: node ref-recovery-server.mjs <port>');
  process.exit(2);
}

const httpServer = http.createServer();
const io = new Server(httpServer, {
  path: '/socket.io/',
  pingInterval: 300,
  pingTimeout: 200,
  connectTimeout: 1000,
  maxHttpBufferSize: 1e6,
  serveClient: false,
  connectionStateRecovery: { maxDisconnectionDuration: 10000, skipMiddlewares: true },
});

io.on('connection', (socket) => {
  console.log(`connect id=${socket.id} recovered=${socket.recovered} auth=${JSON.stringify(socket.handshake.auth)}`);
  socket.on('disconnect', (reason) => console.log(`disconnect id=${socket.id} reason="${reason}"`));
  socket.emit('welcome', { id: socket.id, recovered: socket.recovered });
  socket.on('broadcast', (event, ...args) => {
    io.emit(event, ...args);
  });
  socket.on('drop-then-broadcast', (event, ...args) => {
    socket.once('disconnect', () => io.emit(event, ...args));
    socket.conn.close();
  });
});

httpServer.listen(Number(portArg), '127.0.0.1', () => {
  console.log(`listening ${httpServer.address().port}`);
});

function shutdown() {
  io.close();
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
