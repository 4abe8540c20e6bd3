#!/usr/bin/env node
// The official `socket.io-client` (4.8.4), driven line by line, for the
// connection state recovery tests: the Rust test decides what happens (it
// cuts or stalls the connection, broadcasts, checks), this script only
// reports what the official client sees.
//
// Usage: node recovery-client.mjs <baseUrl> <polling|websocket|upgrade> [auth-json]
//
// The client reconnects quickly (reconnectionDelay 50 ms, max 200 ms, no
// randomization) and otherwise keeps the official defaults.
//
// Prints one JSON line per happening:
//   {"type":"connect","id":...,"recovered":bool,"transport":...}
//   {"type":"disconnect","reason":...}
//   {"type":"connect_error","message":...}
//   {"type":"event","event":...,"args":[...]}   (binary as {"_binary":"<base64>"};
//        an event asking for an ack is answered with "ok" and shows "ack":true)
//   {"type":"ack","id":n,"args":[...]}          (the answer to an "emit" with an id)
// Reads one JSON command per line on stdin:
//   {"cmd":"emit","event":...,"args":[...]}              a plain emit
//   {"cmd":"emit","event":...,"args":[...],"id":n}       an emit with an ack
//   {"cmd":"exit"}                                       closes and exits
// Exits by itself when stdin closes, and after 60 s in any case.

import { io } from 'socket.io-client';
import readline from 'node:readline';

const [baseUrl, mode = 'websocket', authArg] = process.argv.slice(2);
if (!baseUrl || !['polling', 'websocket', 'upgrade'].includes(mode)) {
  console.error('usage: node recovery-client.mjs <baseUrl> <polling|websocket|upgrade> [auth-json]');
  process.exit(2);
}

function out(value) {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

function printable(value) {
  if (Buffer.isBuffer(value) || value instanceof ArrayBuffer) {
    return { _binary: Buffer.from(value).toString('base64') };
  }
  if (Array.isArray(value)) return value.map(printable);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, printable(v)]));
  }
  return value;
}

const socket = io(baseUrl, {
  path: '/socket.io/',
  transports: mode === 'polling' ? ['polling'] : mode === 'websocket' ? ['websocket'] : ['polling', 'websocket'],
  reconnectionDelay: 50,
  reconnectionDelayMax: 200,
  randomizationFactor: 0,
  auth: authArg ? JSON.parse(authArg) : undefined,
});

socket.on('connect', () => {
  out({ type: 'connect', id: socket.id, recovered: socket.recovered, transport: socket.io.engine.transport.name });
});
socket.on('disconnect', (reason) => out({ type: 'disconnect', reason }));
socket.on('connect_error', (err) => out({ type: 'connect_error', message: err.message }));
socket.onAny((event, ...args) => {
  const ack = typeof args[args.length - 1] === 'function' ? args.pop() : null;
  out({ type: 'event', event, args: printable(args), ...(ack ? { ack: true } : {}) });
  if (ack) ack('ok');
});

const lines = readline.createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const command = JSON.parse(line);
  if (command.cmd === 'exit') {
    socket.close();
    process.exit(0);
  }
  if (command.cmd === 'emit') {
    const args = command.args ?? [];
    if (command.id === undefined) {
      socket.emit(command.event, ...args);
    } else {
      socket.emit(command.event, ...args, (...reply) => out({ type: 'ack', id: command.id, args: printable(reply) }));
    }
  }
});
lines.on('close', () => {
  socket.close();
  process.exit(0);
});

setTimeout(() => {
  console.error('recovery-client: watchdog after 60 s');
  process.exit(1);
}, 60_000).unref();
