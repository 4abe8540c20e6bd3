#!/usr/bin/env node
// Records the Engine.IO traffic of the official client while one of the
// interop scripts runs, for the fuzz corpora (see build-corpus.mjs).
//
// Usage: node fuzz/capture/record.mjs <log.jsonl> <client script> [args...]
//   e.g. node fuzz/capture/record.mjs /tmp/sio.jsonl interop/socket-client.mjs all upgrade http://127.0.0.1:3000
//
// It wraps the transports of engine.io-client (the copy in interop/, the one
// socket.io-client loads) where data meets the wire: a polling transport's
// request and response bodies, and a WebSocket transport's frames, in both
// directions. It then runs the client script unchanged and, when the process
// exits, writes one JSON line per record:
//   {"c": connection, "d": "out"|"in", "t": "polling"|"websocket",
//    "k": "text"|"binary", "v": text or base64}
// where "out" is client to server, and `connection` numbers the engine.io
// sockets (a polling session and its upgrade share one).

import { writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const [logPath, script, ...args] = process.argv.slice(2);
if (!logPath || !script) {
  console.error('usage: node record.mjs <log.jsonl> <client script> [args...]');
  process.exit(2);
}

const here = path.dirname(fileURLToPath(import.meta.url));
const interop = path.resolve(here, '../../interop');
// The build socket.io-client imports under Node (the "node" condition).
const entry = path.join(interop, 'node_modules/engine.io-client/build/esm-debug/index.js');
if (!existsSync(entry)) {
  console.error(`record.mjs: ${entry} is missing: run npm ci in interop/`);
  process.exit(2);
}
const eio = await import(pathToFileURL(entry).href);

const records = [];
const ids = new WeakMap();
let nextId = 0;
function connection(transport) {
  const socket = transport.socket ?? transport;
  if (!ids.has(socket)) ids.set(socket, nextId++);
  return ids.get(socket);
}

function record(transport, d, t, data) {
  const c = connection(transport);
  if (typeof data === 'string') {
    records.push({ c, d, t, k: 'text', v: data });
    return;
  }
  let bytes;
  if (Buffer.isBuffer(data)) bytes = data;
  else if (data instanceof ArrayBuffer) bytes = Buffer.from(data);
  else if (ArrayBuffer.isView(data)) bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  else throw new Error(`record.mjs: unexpected data ${Object.prototype.toString.call(data)}`);
  records.push({ c, d, t, k: 'binary', v: bytes.toString('base64') });
}

// The prototype on the chain of `cls` that defines `name`.
function owner(cls, name) {
  for (let p = cls.prototype; p; p = Object.getPrototypeOf(p)) {
    if (Object.prototype.hasOwnProperty.call(p, name)) return p;
  }
  throw new Error(`record.mjs: no ${name} on ${cls.name}: engine.io-client changed`);
}

function wrap(proto, name, before) {
  const original = proto[name];
  proto[name] = function (...a) {
    before.call(this, ...a);
    return original.apply(this, a);
  };
}

// Polling: doWrite(body, fn) posts a whole payload; onData(body) gets one.
wrap(owner(eio.NodeXHR, 'doWrite'), 'doWrite', function (body) {
  record(this, 'out', 'polling', body);
});
wrap(owner(eio.NodeXHR, 'onData'), 'onData', function (body) {
  record(this, 'in', 'polling', body);
});
// WebSocket: doWrite(packet, data) sends one frame; onData(data) gets one.
wrap(owner(eio.NodeWebSocket, 'doWrite'), 'doWrite', function (_packet, data) {
  record(this, 'out', 'websocket', data);
});
const wsOnData = owner(eio.NodeWebSocket, 'onData');
if (wsOnData === owner(eio.NodeXHR, 'onData')) {
  throw new Error('record.mjs: polling and WebSocket share onData: engine.io-client changed');
}
wrap(wsOnData, 'onData', function (data) {
  record(this, 'in', 'websocket', data);
});

process.on('exit', () => {
  writeFileSync(logPath, records.map((r) => JSON.stringify(r)).join('\n') + (records.length ? '\n' : ''));
  console.error(`record.mjs: ${records.length} records to ${logPath}`);
});

process.argv = [process.argv[0], path.resolve(script), ...args];
await import(pathToFileURL(path.resolve(script)).href);
