#!/usr/bin/env node
// Checks of a Socket.IO server on https (such as `rally serve --tls-cert ...
// --tls-key ...` with its chat demo), trusting only the test CA given.
//
// Usage: node tls-client.mjs <mode> <baseUrl> <caFile>
//   socketio-polling | socketio-websocket | socketio-upgrade:
//       two official socket.io-client (4.8.4) clients, with the `ca` option and
//       the given transports (polling only, websocket only, polling then
//       upgrade), join a room (acks), one of them with a binary attachment, and
//       chat (an event from one to the other).
//   polling-h2: an Engine.IO session over long-polling through Node's `http2`
//       module (ALPN must choose h2): handshake, Socket.IO CONNECT, its reply.
//   polling-h1: the same through Node's `https` module (ALPN http/1.1).
//
// Prints one line per step and "ok <mode>" at the end, exit status 0; on a
// failure "FAIL <mode>: <reason>", exit status 1; a usage error exits with 2.
// Every wait has a deadline, and a watchdog limits the whole run.

import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import { io } from 'socket.io-client';

const WAIT_MS = 5_000;
const OVERALL_DEADLINE_MS = 30_000;
const TAG = Math.random().toString(36).slice(2, 8);

const [MODE, BASE_URL, CA_FILE, extra] = process.argv.slice(2);
const MODES = ['socketio-polling', 'socketio-websocket', 'socketio-upgrade', 'polling-h2', 'polling-h1'];
if (!MODES.includes(MODE) || !BASE_URL?.startsWith('https://') || !CA_FILE || extra !== undefined) {
  console.error(`usage: node tls-client.mjs <${MODES.join('|')}> <https://host:port> <caFile>`);
  process.exit(2);
}
const CA = readFileSync(CA_FILE);

const watchdog = setTimeout(() => {
  console.log(`FAIL ${MODE}: the run did not finish within ${OVERALL_DEADLINE_MS} ms`);
  process.exit(1);
}, OVERALL_DEADLINE_MS);

function fail(message) {
  throw new Error(message);
}

function within(what, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${WAIT_MS} ms`)), WAIT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// --- socket.io-client -------------------------------------------------------

function client(name, transports, upgrade) {
  return io(BASE_URL, {
    ca: CA,
    transports,
    upgrade,
    auth: { name },
    reconnection: false,
    forceNew: true,
  });
}

function connected(socket, name) {
  return within(`${name} connects`, new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', (e) => reject(new Error(`${name}: connect_error: ${e.message}`)));
  }));
}

async function socketio() {
  const [transports, upgrade] = {
    'socketio-polling': [['polling'], false],
    'socketio-websocket': [['websocket'], false],
    'socketio-upgrade': [['polling', 'websocket'], true],
  }[MODE];
  const a = client(`Alice-${TAG}`, transports, upgrade);
  const b = client(`Bob-${TAG}`, transports, upgrade);
  try {
    await Promise.all([connected(a, 'Alice'), connected(b, 'Bob')]);
    console.log(`${MODE}: both connected over ${a.io.engine.transport.name}`);
    if (upgrade && a.io.engine.transport.name !== 'websocket') {
      await within('the upgrade to websocket', new Promise((resolve) => a.io.engine.once('upgrade', resolve)));
      console.log(`${MODE}: upgraded to websocket`);
    }
    const room = `tls-${TAG}`;
    const joinedA = await within('Alice joins', a.emitWithAck('join', room));
    if (joinedA.room !== room || joinedA.members !== 1) fail(`Alice's join ack: ${JSON.stringify(joinedA)}`);
    // A binary attachment: the server decodes the binary packet and acks it.
    const blob = Buffer.from([0, 1, 2, 250, 251, 252]);
    const joinedB = await within('Bob joins with a binary attachment', b.emitWithAck('join', room, blob));
    if (joinedB.room !== room || joinedB.members !== 2) fail(`Bob's join ack: ${JSON.stringify(joinedB)}`);
    console.log(`${MODE}: both joined (acks; one with a binary attachment)`);
    const heard = within('Bob hears Alice', new Promise((resolve) => b.once('chat message', resolve)));
    const said = await within('the chat message ack', a.emitWithAck('chat message', { room, text: 'over tls' }));
    if (!said.ok) fail(`chat message ack: ${JSON.stringify(said)}`);
    const message = await heard;
    if (message.text !== 'over tls' || message.name !== `Alice-${TAG}`) fail(`Bob heard ${JSON.stringify(message)}`);
    console.log(`${MODE}: event delivered`);
    const expected = MODE === 'socketio-polling' ? 'polling' : 'websocket';
    for (const [name, socket] of [['Alice', a], ['Bob', b]]) {
      const now = socket.io.engine.transport.name;
      if (now !== expected) fail(`${name} ended on ${now}, expected ${expected}`);
    }
  } finally {
    a.disconnect();
    b.disconnect();
  }
}

// --- raw long-polling --------------------------------------------------------

const POLL = '/socket.io/?EIO=4&transport=polling';

function checkSession(open) {
  if (!open.startsWith('0{')) fail(`handshake answered ${JSON.stringify(open)}`);
  return JSON.parse(open.slice(1)).sid;
}

function checkConnectReply(reply) {
  if (!reply.startsWith('40{')) fail(`the CONNECT was answered ${JSON.stringify(reply)}`);
}

async function pollingH2() {
  const session = http2.connect(BASE_URL, { ca: CA });
  try {
    await within('the h2 connection', new Promise((resolve, reject) => {
      session.once('connect', resolve);
      session.once('error', reject);
    }));
    if (session.alpnProtocol !== 'h2') fail(`ALPN chose ${session.alpnProtocol}, not h2`);
    const request = (method, path, body) => within(`${method} ${path}`, new Promise((resolve, reject) => {
      const headers = { ':method': method, ':path': path };
      if (body !== undefined) headers['content-type'] = 'text/plain;charset=UTF-8';
      const stream = session.request(headers);
      let status = 0;
      let text = '';
      stream.setEncoding('utf8');
      stream.on('response', (h) => { status = h[':status']; });
      stream.on('data', (chunk) => { text += chunk; });
      stream.on('end', () => resolve({ status, text }));
      stream.on('error', reject);
      stream.end(body);
    }));
    const open = await request('GET', POLL);
    if (open.status !== 200) fail(`handshake status ${open.status}: ${open.text}`);
    const sid = checkSession(open.text);
    const url = `${POLL}&sid=${sid}`;
    // Both on the one connection, as two streams at once: the poll waits for
    // the reply the POST causes.
    const [poll, post] = await Promise.all([request('GET', url), request('POST', url, '40{"name":"h2"}')]);
    if (post.status !== 200 || post.text !== 'ok') fail(`POST answered ${post.status} ${post.text}`);
    checkConnectReply(poll.text);
    console.log('polling-h2: handshake, CONNECT and its reply over one HTTP/2 connection');
  } finally {
    session.close();
  }
}

async function pollingH1() {
  const agent = new https.Agent({ ca: CA, keepAlive: true, maxSockets: 2 });
  const protocols = new Set();
  const request = (method, path, body) => within(`${method} ${path}`, new Promise((resolve, reject) => {
    const req = https.request(`${BASE_URL}${path}`, { method, agent, ALPNProtocols: ['http/1.1'] }, (res) => {
      protocols.add(res.socket.alpnProtocol);
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { text += chunk; });
      res.on('end', () => resolve({ status: res.statusCode, version: res.httpVersion, text }));
    });
    req.on('error', reject);
    req.end(body);
  }));
  try {
    const open = await request('GET', POLL);
    if (open.status !== 200 || open.version !== '1.1') fail(`handshake: ${open.status} over HTTP/${open.version}`);
    const sid = checkSession(open.text);
    const url = `${POLL}&sid=${sid}`;
    const [poll, post] = await Promise.all([request('GET', url), request('POST', url, '40{"name":"h1"}')]);
    if (post.status !== 200 || post.text !== 'ok') fail(`POST answered ${post.status} ${post.text}`);
    checkConnectReply(poll.text);
    // Offered only http/1.1 (Node's https cannot speak h2), the server must
    // choose it.
    for (const p of protocols) if (p !== 'http/1.1') fail(`ALPN chose ${p}`);
    console.log('polling-h1: handshake, CONNECT and its reply over HTTP/1.1');
  } finally {
    agent.destroy();
  }
}

try {
  if (MODE.startsWith('socketio-')) await socketio();
  else if (MODE === 'polling-h2') await pollingH2();
  else await pollingH1();
  console.log(`ok ${MODE}`);
  clearTimeout(watchdog);
  process.exit(0);
} catch (e) {
  console.log(`FAIL ${MODE}: ${e.message}`);
  process.exit(1);
}
