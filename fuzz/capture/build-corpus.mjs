#!/usr/bin/env node
// Turns traffic recorded by record.mjs into seed corpora, one folder per fuzz
// target, in the input format of each (see fuzz/README.md).
//
// Usage: node fuzz/capture/build-corpus.mjs <corpus dir> <kind>:<log.jsonl>...
//   kind: sio (a Socket.IO server) or eio (the Engine.IO echo server)
//
// Files are named by the SHA-1 of their content, as libFuzzer names them, so
// equal inputs collapse. Inputs over the size caps below are left out: the
// corpus is for shapes, not for sizes.

import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const [outDir, ...logs] = process.argv.slice(2);
if (!outDir || logs.length === 0) {
  console.error('usage: node build-corpus.mjs <corpus dir> <sio|eio>:<log.jsonl>...');
  process.exit(2);
}

const CAP = 1024; // one packet or JSON text
const CAP_SEQ = 4000; // a message sequence or a polling body
const MAX_MSGS = 24; // messages in one sequence

const corpora = {};
function add(target, data) {
  const bytes = Buffer.isBuffer(data) ? data : Buffer.from(data, 'utf8');
  const name = createHash('sha1').update(bytes).digest('hex');
  (corpora[target] ??= new Map()).set(name, bytes);
}

// The message-sequence format of rally_fuzz::messages: tag, u16 BE length, payload.
function sequence(msgs) {
  const parts = [];
  for (const { tag, bytes } of msgs) {
    const head = Buffer.alloc(3);
    head[0] = tag;
    head.writeUInt16BE(bytes.length, 1);
    parts.push(head, bytes);
  }
  return Buffer.concat(parts);
}
const size = (msgs) => msgs.reduce((n, m) => n + 3 + m.bytes.length, 0);
const text = (s) => ({ tag: 0, bytes: Buffer.from(s, 'utf8') });
const binary = (b) => ({ tag: 1, bytes: b });

// Cuts a sequence into chunks of at most MAX_MSGS messages and CAP_SEQ
// bytes, only before a text message (binary attachments stay with their
// packet), each chunk after the first starting with `prefix`.
function chunks(msgs, prefix = []) {
  const out = [];
  let cur = [];
  for (const m of msgs) {
    const full = cur.length >= MAX_MSGS || size(cur) + 3 + m.bytes.length > CAP_SEQ;
    if (m.tag === 0 && full && cur.length > prefix.length) {
      out.push(cur);
      cur = [...prefix];
    }
    cur.push(m);
  }
  if (cur.length > prefix.length || out.length === 0) out.push(cur);
  return out.filter((c) => size(c) <= CAP_SEQ);
}

// The JSON payload of a well-formed Socket.IO packet, as a client writes it.
function payload(packet) {
  const m = /^[0-6](?:\d+-)?(?:\/[^,]*,)?\d*(.*)$/s.exec(packet);
  return m && m[1] ? m[1] : null;
}

// Engine.IO records of a polling body: text, or `b` + base64 for binary.
function pollingRecords(body) {
  return body.split('\x1e').map((r) => (r.startsWith('b') ? binary(Buffer.from(r.slice(1), 'base64')) : text(r)));
}

for (const arg of logs) {
  const [kind, file] = [arg.slice(0, arg.indexOf(':')), arg.slice(arg.indexOf(':') + 1)];
  if (kind !== 'sio' && kind !== 'eio') throw new Error(`unknown kind in ${arg}`);
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const byConnection = new Map();
  for (const r of lines) {
    if (!byConnection.has(r.c)) byConnection.set(r.c, []);
    byConnection.get(r.c).push(r);
  }
  for (const records of byConnection.values()) {
    // Engine.IO messages of each direction, in order, as text or binary.
    const engine = { out: [], in: [] };
    for (const r of records) {
      if (r.t === 'polling') {
        if (Buffer.byteLength(r.v) <= CAP_SEQ) add('polling_payload', r.v);
        engine[r.d].push(...pollingRecords(r.v).map((m) => ({ ...m, polling: true })));
      } else if (r.k === 'text') {
        engine[r.d].push(text(r.v));
      } else {
        engine[r.d].push(binary(Buffer.from(r.v, 'base64')));
      }
    }
    for (const d of ['out', 'in']) {
      for (const m of engine[d]) {
        if (m.tag === 0 && m.bytes.length <= CAP) add('engine_packet', m.bytes);
      }
    }
    if (kind === 'sio') {
      // Socket.IO packets (the text of Engine.IO messages) and binary
      // attachments, per direction.
      for (const d of ['out', 'in']) {
        const socket = [];
        for (const m of engine[d]) {
          if (m.tag === 1) {
            socket.push(m);
          } else if (m.bytes[0] === 0x34 /* '4' */) {
            const packet = m.bytes.subarray(1).toString('utf8');
            socket.push(text(packet));
            if (Buffer.byteLength(packet) <= CAP) add('socket_packet', packet);
            const json = /^[2356]/.test(packet) ? payload(packet) : null;
            if (json && Buffer.byteLength(json) <= CAP) add('event_args', json);
          }
        }
        for (const c of chunks(socket)) add('socket_assembler', sequence(c));
      }
    }
    // What the client sent, replayed over a WebSocket: the mode byte (see
    // rally_fuzz::ws), then the messages; close at the end.
    const base = (kind === 'sio' ? 0 : 1) | 4;
    const out = engine.out;
    const firstWs = out.findIndex((m) => !m.polling);
    const upgraded = firstWs > 0 && out.slice(0, firstWs).every((m) => m.polling);
    if (upgraded) {
      // The upgrade as it happened: a polling handshake, then 2probe, 5, ...
      const ws = out.slice(firstWs);
      for (const c of chunks(ws).slice(0, 1)) add('websocket_messages', Buffer.concat([Buffer.from([base | 2]), sequence(c)]));
    }
    // Everything on a WebSocket from the start, without the upgrade's
    // 2probe/5 (a ping from a client is a protocol error) and pongs kept.
    const direct = out.filter((m) => !(m.tag === 0 && (m.bytes[0] === 0x32 || m.bytes[0] === 0x35)));
    const connects = direct.filter((m) => m.tag === 0 && m.bytes.subarray(0, 2).toString() === '40');
    for (const c of chunks(direct, connects.slice(0, 1))) {
      add('websocket_messages', Buffer.concat([Buffer.from([base]), sequence(c)]));
    }
  }
}

for (const [target, files] of Object.entries(corpora)) {
  const dir = path.join(outDir, target);
  mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of files) writeFileSync(path.join(dir, name), bytes);
  console.log(`${target}: ${files.size} inputs`);
}
