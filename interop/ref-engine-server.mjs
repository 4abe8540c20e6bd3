#!/usr/bin/env node
// Reference Engine.IO echo server, built on the official `engine.io` package.
//
// It is configured exactly like the Rally echo server that the Rust integration
// tests start, so engine-client.mjs can be developed and compared against the
// reference implementation:
//
//   path /engine.io/, pingInterval 1000 ms, pingTimeout 1000 ms,
//   maxHttpBufferSize 1,000,000 bytes; every message is echoed unchanged
//   (text as text, binary as binary).
//
// Usage: node ref-engine-server.mjs <port>     (port 0 picks a free port)
// Prints "listening <port>" once it accepts connections, then one line per
// session opened or closed (with the server-side close reason).

import http from 'node:http';
import { Server } from 'engine.io';

const portArg = process.argv[2];
if (portArg === undefined || !/^\d+$/.test(portArg)) {
  console.error('usage: node ref-engine-server.mjs <port>');
  process.exit(2);
}

const httpServer = http.createServer((req, res) => {
  res.writeHead(404, { 'Content-Type': 'text/plain' });
  res.end('not found\n');
});

const engine = new Server({
  pingInterval: 1000,
  pingTimeout: 1000,
  maxHttpBufferSize: 1e6,
});
engine.attach(httpServer, { path: '/engine.io/' });

engine.on('connection', (socket) => {
  console.log(`open ${socket.id} transport=${socket.transport.name}`);
  socket.on('upgrade', (transport) => {
    console.log(`upgrade ${socket.id} transport=${transport.name}`);
  });
  socket.on('message', (data) => socket.send(data));
  socket.on('close', (reason, description) => {
    const detail = description?.message ? ` (${description.message})` : '';
    console.log(`close ${socket.id} reason="${reason}"${detail}`);
  });
});

engine.on('connection_error', (err) => {
  console.log(`connection_error code=${err.code} message="${err.message}"`);
});

httpServer.listen(Number(portArg), '127.0.0.1', () => {
  console.log(`listening ${httpServer.address().port}`);
});

function shutdown() {
  engine.close();
  httpServer.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
