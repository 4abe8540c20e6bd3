#!/usr/bin/env node
// Interop check of `Server::close` (the reference's `io.close()`) with the
// official `socket.io-client` (4.8.4).
//
// Usage: node close-client.mjs <polling|websocket|upgrade> <baseUrl>
//
// The server must close itself when a client emits `close-server`. The client
// connects, asks for the close, and must see its socket disconnect with
// "transport close"; a new connection must then fail with a connect_error.
// Exit status 0 and a final line "ok close" on success; otherwise a
// "FAIL close: <reason>" line and exit status 1. Every wait has a deadline.

import { io } from 'socket.io-client';

const WAIT_MS = 5_000;
const [mode, url] = process.argv.slice(2);
if (!['polling', 'websocket', 'upgrade'].includes(mode) || !url) {
  console.log('usage: node close-client.mjs <polling|websocket|upgrade> <baseUrl>');
  process.exit(2);
}

function options() {
  const base = { forceNew: true, reconnection: false, timeout: WAIT_MS };
  if (mode === 'polling') return { ...base, transports: ['polling'] };
  if (mode === 'websocket') return { ...base, transports: ['websocket'] };
  return base;
}

function within(what, promise) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${WAIT_MS} ms`)), WAIT_MS);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

function once(socket, event) {
  return new Promise((resolve) => socket.once(event, (...args) => resolve(args)));
}

async function main() {
  const socket = io(url, options());
  await within('connect', once(socket, 'connect'));
  if (mode === 'upgrade' && socket.io.engine.transport.name !== 'websocket') {
    await within('upgrade', once(socket.io.engine, 'upgrade'));
  }
  const disconnected = once(socket, 'disconnect');
  socket.emit('close-server');
  const [reason] = await within('disconnect', disconnected);
  if (reason !== 'transport close') throw new Error(`disconnect reason "${reason}", expected "transport close"`);

  const late = io(url, options());
  const outcome = await within(
    'connect_error',
    Promise.race([once(late, 'connect').then(() => 'connect'), once(late, 'connect_error').then(() => 'connect_error')]),
  );
  late.close();
  if (outcome !== 'connect_error') throw new Error(`a new connection got "${outcome}" after the close`);
}

main().then(
  () => {
    console.log('ok close');
    process.exit(0);
  },
  (err) => {
    console.log(`FAIL close: ${err.message}`);
    process.exit(1);
  },
);
