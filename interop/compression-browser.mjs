#!/usr/bin/env node
// Browser check of compressed long-polling: one Chromium page loads the chat
// demo (for its /socket.io/socket.io.js), then opens two polling-only
// Socket.IO clients in the page (Alice and Bob), joins both to one room, and
// Alice sends a chat message of 1,900 characters, which the server relays to
// Bob in a poll reply of over 1,024 bytes. Uses `playwright-core` with
// Debian's Chromium (/usr/bin/chromium); it never downloads a browser.
//
// Usage: node compression-browser.mjs <baseUrl>
//   e.g. node compression-browser.mjs http://127.0.0.1:3000
//
// Checks: both clients connect over polling and stay on it; Bob receives the
// long message intact (so Chromium inflated the body); at least one poll reply
// the browser received had `Content-Encoding: gzip` (what the server picks
// for Chromium's `gzip, deflate, br, zstd`).
//
// Prints one line per step and "ok compression-browser" at the end, exit
// status 0; on a failure "FAIL compression-browser: <reason>", exit status 1;
// a usage error exits with 2. Every wait has a deadline, and a watchdog
// limits the whole run.

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const WAIT_MS = 10_000; // deadline for one wait or action
const OVERALL_DEADLINE_MS = 60_000; // the whole run
const TAG = Math.random().toString(36).slice(2, 8);

class Failure extends Error {}

function fail(message) {
  throw new Failure(message);
}

function log(line) {
  console.log(line);
}

const [BASE_URL, extra] = process.argv.slice(2);
if (!BASE_URL || extra !== undefined || !/^https?:\/\//.test(BASE_URL)) {
  console.error('usage: node compression-browser.mjs <baseUrl>');
  process.exit(2);
}

let context = null;
let userDataDir = null;

async function cleanup() {
  try {
    await Promise.race([context?.close(), new Promise((done) => setTimeout(done, 5_000).unref())]);
  } catch {
    // the browser may already be gone
  }
  context = null;
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  userDataDir = null;
}

const watchdog = setTimeout(() => {
  console.log(`FAIL compression-browser: the run did not finish within ${OVERALL_DEADLINE_MS} ms`);
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  process.exit(1);
}, OVERALL_DEADLINE_MS);
watchdog.unref();

async function step(what, promise) {
  try {
    return await promise;
  } catch (err) {
    if (err instanceof Failure) throw err;
    fail(`${what}: ${String(err?.message ?? err).split('\n')[0]}`);
  }
}

async function main() {
  if (!existsSync(CHROMIUM)) {
    fail(`${CHROMIUM} is missing: install Debian's chromium package; this script never downloads a browser`);
  }
  let chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch (err) {
    fail(`cannot load playwright-core (run "npm ci" in interop/): ${err.message}`);
  }
  userDataDir = mkdtempSync(join(tmpdir(), 'rally-compression-browser-'));
  context = await step('launch Chromium', chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: WAIT_MS * 3,
  }));
  const page = context.pages()[0] ?? await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  const errors = [];
  page.on('pageerror', (err) => errors.push(`uncaught ${err.message}`));

  // Every poll reply (a GET carrying the polling transport) and its coding.
  const polls = [];
  page.on('response', async (response) => {
    const request = response.request();
    if (request.method() !== 'GET' || !response.url().includes('transport=polling')) return;
    const headers = await response.allHeaders().catch(() => response.headers());
    polls.push({
      encoding: headers['content-encoding'] ?? null,
      accept: (await request.allHeaders().catch(() => request.headers()))['accept-encoding'] ?? null,
    });
  });

  const loaded = await step(`load ${BASE_URL}`, page.goto(BASE_URL, { waitUntil: 'load', timeout: WAIT_MS }));
  if (!loaded || loaded.status() !== 200) fail(`GET ${BASE_URL} answered ${loaded?.status()}`);
  if (!(await page.evaluate(() => typeof window.io === 'function'))) {
    fail('the page has no global io(): /socket.io/socket.io.js did not load');
  }
  log(`compression-browser: Chromium ${context.browser()?.version() ?? '?'} loaded the page`);

  const room = `compressed-${TAG}`;
  const text = 'a long line of chat, '.repeat(95).slice(0, 1900);
  const result = await step('the polling-only exchange', page.evaluate(async ([room, text, waitMs]) => {
    const deadline = (what, promise) => Promise.race([
      promise,
      new Promise((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer within ${waitMs} ms`)), waitMs)),
    ]);
    const connect = (name) => deadline(`${name} connects`, new Promise((resolve, reject) => {
      const socket = window.io({ path: '/socket.io/', transports: ['polling'], auth: { name }, forceNew: true });
      socket.on('connect', () => resolve(socket));
      socket.on('connect_error', (err) => reject(new Error(`${name}: connect_error ${err.message}`)));
    }));
    const alice = await connect('Alice');
    const bob = await connect('Bob');
    await deadline('Alice joins', alice.emitWithAck('join', room));
    await deadline('Bob joins', bob.emitWithAck('join', room));
    const received = deadline('Bob receives the message', new Promise((resolve) => {
      bob.on('chat message', (message) => resolve(message));
    }));
    const ack = await deadline('Alice is acknowledged', alice.emitWithAck('chat message', { room, text }));
    const message = await received;
    const transports = [alice.io.engine.transport.name, bob.io.engine.transport.name];
    alice.disconnect();
    bob.disconnect();
    return { ack, name: message.name, same: message.text === text, length: message.text.length, transports };
  }, [room, text, WAIT_MS]));
  if (errors.length) fail(errors.join('; '));
  if (!result.ack?.ok) fail(`the message was refused: ${JSON.stringify(result.ack)}`);
  if (result.name !== 'Alice' || !result.same) {
    fail(`Bob got ${JSON.stringify({ name: result.name, length: result.length })}, not Alice's ${text.length} characters`);
  }
  if (result.transports.some((t) => t !== 'polling')) fail(`the clients used ${result.transports}, not polling`);
  log(`compression-browser: Bob received Alice's ${text.length}-character message over polling`);

  // Response events may trail the page's own handling by a moment.
  const until = Date.now() + WAIT_MS;
  while (!polls.some((p) => p.encoding === 'gzip') && Date.now() < until) {
    await new Promise((done) => setTimeout(done, 50));
  }
  const gzipped = polls.filter((p) => p.encoding === 'gzip').length;
  if (gzipped === 0) {
    fail(`no poll reply was gzipped; the polls: ${JSON.stringify(polls)}`);
  }
  log(`compression-browser: ${gzipped} of ${polls.length} poll replies were gzipped (the browser sent Accept-Encoding: ${polls[0]?.accept})`);
}

try {
  await main();
  await cleanup();
  clearTimeout(watchdog);
  log('ok compression-browser');
} catch (err) {
  if (err instanceof Failure) {
    console.log(`FAIL compression-browser: ${err.message}`);
  } else {
    console.log('FAIL compression-browser: unexpected error');
    console.log(err?.stack ?? String(err));
  }
  await cleanup();
  process.exit(1);
}
