#!/usr/bin/env node
// Reference server for the chat demo of `rally serve`, built on the official
// `socket.io` package (4.8.4). It is the reference implementation of the demo
// protocol (see README.md, "The chat demo"), and a stand-in for `rally serve`
// when working on the page or on chat-client.mjs / chat-browser.mjs.
//
//   GET /                          the page, ../crates/rally-cli/assets/index.html
//                                  (read again on every request)
//   GET /socket.io/socket.io.js    the official browser client (socket.io's serveClient)
//   /socket.io/                    Socket.IO, namespace "/", default settings
//
// The chat protocol (namespace "/"; clients connect with auth {name}):
//   middleware   auth.name must be a string of 1 to 32 characters after trimming
//                (the trimmed name is used); otherwise CONNECT_ERROR
//                {"message": "a name is required (1 to 32 characters)"}
//   join (room, ack)            -> ack {room, members}; others in the room get "user joined" {name, room}
//                                  (already in the room: same ack, nothing sent)
//   chat message ({room, text}, ack)
//                               -> everyone in the room, sender included, gets
//                                  "chat message" {room, name, text, ts}; ack {ok: true}
//                                  or ack {ok: false, error} and nothing sent
//   typing (room)               -> others in the room get "typing" {name, room}
//   leave (room[, ack])         -> others get "user left" {name, room}; ack {room, members}
//   disconnection               -> "user left" {name, room} to every room the user was in
// Characters are Unicode code points. Room names are strings of 1 to 64
// characters that are not only whitespace.
//
// Usage: node ref-chat-server.mjs <port>     (port 0 picks a free port)
// Prints "listening <port>" once it accepts connections, then one line per
// connection, refusal and disconnection.

import http from 'node:http';
import { readFile } from 'node:fs/promises';
import { Server } from 'socket.io';

const PAGE = new URL('../crates/rally-cli/assets/index.html', import.meta.url);

const NAME_MAX = 32;
const ROOM_MAX = 64;
const TEXT_MAX = 2000;

// The error strings of the protocol.
const NAME_ERROR = `a name is required (1 to ${NAME_MAX} characters)`;
const ROOM_ERROR = `a room name is required (1 to ${ROOM_MAX} characters)`;
const TEXT_NOT_STRING = 'text must be a string';
const TEXT_EMPTY = 'text is empty';
const TEXT_TOO_LONG = `text is longer than ${TEXT_MAX} characters`;
const notInRoom = (room) => `not in room ${room}`;

const portArg = process.argv[2];
if (portArg === undefined || !/^\d+$/.test(portArg)) {
  console.error('usage: node ref-chat-server.mjs <port>');
  process.exit(2);
}

/** Length in Unicode code points (a Rust `str::chars().count()`). */
const chars = (s) => [...s].length;

function validRoom(room) {
  return typeof room === 'string' && room.trim() !== '' && chars(room) <= ROOM_MAX;
}

const httpServer = http.createServer(async (req, res) => {
  // socket.io answers everything under /socket.io/ before this handler runs.
  const { pathname } = new URL(req.url, 'http://localhost');
  if ((req.method === 'GET' || req.method === 'HEAD') && (pathname === '/' || pathname === '/index.html')) {
    try {
      const body = await readFile(PAGE);
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'content-length': body.length,
        'cache-control': 'no-cache',
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch (err) {
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`cannot read the page: ${err.message}\n`);
    }
    return;
  }
  res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
  res.end('not found\n');
});

// Default settings, like `rally serve`; serveClient (the default) serves the
// browser bundle at /socket.io/socket.io.js.
const io = new Server(httpServer, { path: '/socket.io/', serveClient: true });
const root = io.of('/');

/** Number of sockets in the room. */
function members(room) {
  return root.adapter.rooms.get(room)?.size ?? 0;
}

root.use((socket, next) => {
  const name = socket.handshake.auth?.name;
  const trimmed = typeof name === 'string' ? name.trim() : '';
  if (trimmed === '' || chars(trimmed) > NAME_MAX) {
    console.log(`refused engine=${socket.conn.id} auth=${JSON.stringify(socket.handshake.auth)}`);
    next(new Error(NAME_ERROR));
    return;
  }
  socket.data.name = trimmed;
  socket.data.rooms = new Set(); // the rooms joined with "join" (not the socket's own id room)
  next();
});

root.on('connection', (socket) => {
  const { name } = socket.data;
  console.log(`connect id=${socket.id} name=${JSON.stringify(name)} transport=${socket.conn.transport.name}`);
  const reply = (ack, value) => {
    if (typeof ack === 'function') ack(value);
  };

  socket.on('join', (room, ack) => {
    if (typeof room === 'function') [room, ack] = [undefined, room];
    if (!validRoom(room)) {
      reply(ack, { ok: false, error: ROOM_ERROR });
      return;
    }
    if (!socket.data.rooms.has(room)) {
      socket.data.rooms.add(room);
      socket.join(room);
      socket.to(room).emit('user joined', { name, room });
    }
    reply(ack, { room, members: members(room) });
  });

  socket.on('leave', (room, ack) => {
    if (typeof room === 'function') [room, ack] = [undefined, room];
    if (!validRoom(room)) {
      reply(ack, { ok: false, error: ROOM_ERROR });
      return;
    }
    if (socket.data.rooms.has(room)) {
      socket.data.rooms.delete(room);
      socket.leave(room);
      root.to(room).emit('user left', { name, room });
    }
    reply(ack, { room, members: members(room) });
  });

  socket.on('chat message', (message, ack) => {
    if (typeof message === 'function') [message, ack] = [undefined, message];
    const { room, text } = message !== null && typeof message === 'object' ? message : {};
    let error;
    if (typeof text !== 'string') error = TEXT_NOT_STRING;
    else if (text.trim() === '') error = TEXT_EMPTY;
    else if (chars(text) > TEXT_MAX) error = TEXT_TOO_LONG;
    else if (typeof room !== 'string') error = ROOM_ERROR;
    else if (!socket.data.rooms.has(room)) error = notInRoom(room);
    if (error) {
      reply(ack, { ok: false, error });
      return;
    }
    root.to(room).emit('chat message', { room, name, text, ts: Date.now() });
    reply(ack, { ok: true });
  });

  socket.on('typing', (room) => {
    if (typeof room === 'string' && socket.data.rooms.has(room)) {
      socket.to(room).emit('typing', { name, room });
    }
  });

  socket.on('disconnect', (reason) => {
    console.log(`disconnect id=${socket.id} name=${JSON.stringify(name)} reason="${reason}"`);
    // The socket has already left its rooms: this reaches the others only.
    for (const room of socket.data.rooms) root.to(room).emit('user left', { name, room });
    socket.data.rooms.clear();
  });
});

httpServer.listen(Number(portArg), '127.0.0.1', () => {
  console.log(`listening ${httpServer.address().port}`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    io.close();
    process.exit(0);
  });
}
