#!/usr/bin/env node
// Holds rally-proto's Socket.IO decoder to the reference parser
// (socket.io-parser 4.2.7, from interop/node_modules) on a folder of
// socket_packet inputs, such as a corpus a fuzzing run grew.
//
// Usage: bash fuzz/differential/socket_parser.sh <folder>
// (which runs the dump test, then this script on its output)
//   node fuzz/differential/socket_parser.mjs <folder> <rust results.jsonl>
//
// Prints each input on which the two disagree, except the divergences
// rally-proto documents (rally_proto::socket): an ack id JavaScript reads as
// NaN or that does not fit in a u64 is an error. Exit status 1 when any
// other disagreement is found.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const [folder, results] = process.argv.slice(2);
const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.resolve(here, '../../interop/package.json'));
const { Decoder } = require('socket.io-parser');

let compared = 0;
let documented = 0;
const disagreements = [];
for (const line of readFileSync(results, 'utf8').split('\n').filter(Boolean)) {
  const rust = JSON.parse(line);
  const bytes = readFileSync(path.join(folder, rust.file));
  const text = (bytes[0] >= 0xf0 ? bytes.subarray(1) : bytes).toString('utf8');
  let ref;
  try {
    ref = { ok: true, packet: new Decoder({ maxAttachments: rust.max }).decodeString(text) };
  } catch (e) {
    ref = { ok: false, error: e.message };
  }
  compared++;
  const report = (why) => disagreements.push({ input: JSON.stringify(text), why, rust, ref });
  if (!ref.ok) {
    if (rust.ok) report('the reference refuses it, rally-proto accepts it');
    continue;
  }
  const p = ref.packet;
  if (!rust.ok) {
    if (rust.error === 'InvalidAckId' && (Number.isNaN(p.id) || !(p.id <= Number.MAX_SAFE_INTEGER) || p.id > 18446744073709551615)) {
      documented++;
      continue;
    }
    report('the reference accepts it, rally-proto refuses it');
    continue;
  }
  if (p.type !== rust.type) report('type');
  if (p.nsp !== rust.nsp) report('namespace');
  if ((p.id === undefined) !== (rust.id === null) || (rust.id !== null && Number(rust.id) !== p.id)) report('id');
  if ((p.attachments ?? 0) !== rust.attachments) report('attachments');
  const data = rust.data === null ? undefined : JSON.parse(rust.data);
  if (!isDeepStrictEqual(data, p.data)) report('data');
}
for (const d of disagreements) console.log(JSON.stringify(d));
console.log(`${compared} inputs compared, ${documented} documented divergences, ${disagreements.length} disagreements`);
process.exit(disagreements.length ? 1 : 0);
