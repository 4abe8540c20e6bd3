#!/usr/bin/env node
// Reference Socket.IO server for the "interop test protocol", built on the
// official `socket.io` package (4.8.4).
//
// It is configured exactly like the Rally Socket.IO test server that the Rust
// integration tests start, so socket-client.mjs can be developed and compared
// against the reference implementation:
//
//   path /socket.io/, pingInterval 1000 ms, pingTimeout 2000 ms,
//   connectTimeout 1000 ms, maxHttpBufferSize 1,000,000 bytes.
//
// The interop test protocol (see README.md, "socket-client.mjs"):
//   namespaces "/", "/custom", and "/mw" (middleware: refuses unless
//   handshake.auth.token === "secret", error "not authorized", data {reason:"token"}).
//   On connection in any namespace: emit "auth" with socket.handshake.auth.
//   "/" and "/custom": message, message-with-ack.
//   "/" only: join, leave, to, to-except, broadcast, volatile, request-ack,
//   fetch, server-disconnect, server-close, drop-transport; and, this server only,
//   transport (ack): ack({name, extensions}), the transport in use and the
//   WebSocket extensions agreed ("" on polling or without any).
//
// Usage: node ref-socket-server.mjs <port> [json|msgpack] [eio3] [deflate]
//                                  [--cert=<pem> --key=<pem>]
//   (port 0 picks a free port; msgpack: socket.io-msgpack-parser 3.0.2;
//   eio3: allowEIO3, Socket.IO v2 clients welcome; deflate:
//   perMessageDeflate: true, WebSocket messages of 1024 bytes or more
//   compressed; --cert and --key: https and wss with that certificate chain
//   and private key, PEM files)
// Prints "listening <port>" once it accepts connections, then one line per
// engine connection, namespace connection and disconnection (with reasons).

import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { Server } from 'socket.io';
import msgpackParser from 'socket.io-msgpack-parser';

const portArg = process.argv[2];
const parserArg = process.argv[3] ?? 'json';
const tlsFiles = {};
const flags = process.argv.slice(4).filter((arg) => {
  const m = /^--(cert|key)=(.+)$/.exec(arg);
  if (m) tlsFiles[m[1]] = m[2];
  return !m;
});
const eio3 = flags.includes('eio3');
const deflate = flags.includes('deflate');
if (portArg === undefined || !/^\d+$/.test(portArg) || !['json', 'msgpack'].includes(parserArg)
  || flags.some((f) => !['eio3', 'deflate'].includes(f))
  || (tlsFiles.cert === undefined) !== (tlsFiles.key === undefined)) {
  console.error('usage: node ref-socket-server.mjs <port> [json|msgpack] [eio3] [deflate] [--cert=<pem> --key=<pem>]');
  process.exit(2);
}

const httpServer = tlsFiles.cert === undefined
  ? http.createServer()
  : https.createServer({ cert: fs.readFileSync(tlsFiles.cert), key: fs.readFileSync(tlsFiles.key) });

const io = new Server(httpServer, {
  path: '/socket.io/',
  pingInterval: 1000,
  pingTimeout: 2000,
  connectTimeout: 1000,
  maxHttpBufferSize: 1e6,
  serveClient: false,
  ...(parserArg === 'msgpack' ? { parser: msgpackParser } : {}),
  allowEIO3: eio3,
  perMessageDeflate: deflate,
});

function logConnection(socket) {
  const nsp = socket.nsp.name;
  console.log(`connect nsp=${nsp} id=${socket.id} engine=${socket.conn.id} transport=${socket.conn.transport.name} auth=${JSON.stringify(socket.handshake.auth)}`);
  socket.on('disconnect', (reason) => {
    console.log(`disconnect nsp=${nsp} id=${socket.id} reason="${reason}"`);
  });
}

/** Handlers shared by "/" and "/custom". */
function echoHandlers(socket) {
  // message (...args) -> message-back (...args), binary included.
  socket.on('message', (...args) => {
    socket.emit('message-back', ...args);
  });
  // message-with-ack (...args, ack) -> ack(...args).
  socket.on('message-with-ack', (...args) => {
    const ack = args.pop();
    if (typeof ack !== 'function') return; // sent without an ack: nothing to answer
    ack(...args);
  });
}

const root = io.of('/');
root.on('connection', (socket) => {
  logConnection(socket);
  socket.emit('auth', socket.handshake.auth);
  echoHandlers(socket);

  socket.on('join', (room, ack) => {
    socket.join(room);
    ack(room);
  });
  socket.on('leave', (room, ack) => {
    socket.leave(room);
    ack(room);
  });
  // to (rooms: string | string[], event, ...args): everyone in the rooms, the sender included if in them.
  socket.on('to', (rooms, event, ...args) => {
    root.to(rooms).emit(event, ...args);
  });
  // to-except (room, exceptRoom, event, ...args)
  socket.on('to-except', (room, exceptRoom, event, ...args) => {
    root.to(room).except(exceptRoom).emit(event, ...args);
  });
  // broadcast (event, ...args): everyone in "/" but the sender.
  socket.on('broadcast', (event, ...args) => {
    socket.broadcast.emit(event, ...args);
  });
  // volatile (event, ...args): everyone in "/", dropped for a transport that is not writable right now.
  socket.on('volatile', (event, ...args) => {
    root.volatile.emit(event, ...args);
  });
  // request-ack (event, arg, ack): ask this client for an ack within 1000 ms.
  socket.on('request-ack', async (event, arg, ack) => {
    try {
      const reply = await socket.timeout(1000).emitWithAck(event, arg);
      ack({ ok: true, reply });
    } catch (err) {
      ack({ ok: false, error: err.message });
    }
  });
  // fetch (room, ack): ids of the sockets in the room, sorted.
  socket.on('fetch', async (room, ack) => {
    const sockets = await root.in(room).fetchSockets();
    ack(sockets.map((s) => s.id).sort());
  });
  // server-disconnect: namespace-level disconnect; the engine connection stays open.
  socket.on('server-disconnect', () => {
    socket.disconnect();
  });
  // server-close: disconnect and close the engine connection; the client sees "io server disconnect".
  socket.on('server-close', () => {
    socket.disconnect(true);
  });
  // drop-transport: close the whole engine connection; the client sees "transport close" and reconnects.
  socket.on('drop-transport', () => {
    socket.conn.close();
  });
  // transport (ack): the transport in use and the WebSocket extensions agreed ("" when none).
  socket.on('transport', (ack) => {
    const transport = socket.conn.transport;
    ack({ name: transport.name, extensions: transport.socket?.extensions ?? '' });
  });
});

const custom = io.of('/custom');
custom.on('connection', (socket) => {
  logConnection(socket);
  socket.emit('auth', socket.handshake.auth);
  echoHandlers(socket);
});

const mw = io.of('/mw');
mw.use((socket, next) => {
  if (socket.handshake.auth?.token === 'secret') {
    next();
    return;
  }
  const e = new Error('not authorized');
  e.data = { reason: 'token' };
  next(e);
});
mw.on('connection', (socket) => {
  logConnection(socket);
  socket.emit('auth', socket.handshake.auth);
});

io.engine.on('connection', (conn) => {
  console.log(`open engine=${conn.id} transport=${conn.transport.name}`);
  conn.on('upgrade', (transport) => {
    console.log(`upgrade engine=${conn.id} transport=${transport.name}`);
  });
  conn.on('close', (reason, description) => {
    const detail = description?.message ? ` (${description.message})` : '';
    console.log(`close engine=${conn.id} reason="${reason}"${detail}`);
  });
});

io.engine.on('connection_error', (err) => {
  console.log(`connection_error code=${err.code} message="${err.message}"`);
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
