#!/usr/bin/env node
// WebSocket compression in a browser: Debian's Chromium (which always offers
// permessage-deflate) loads the chat demo page of `rally serve`, and in the
// page the official browser client (/socket.io/socket.io.js) connects over
// WebSocket, joins a room and sends a chat message of 2000 characters (over
// the 1024-byte threshold both ways), which comes back to it from the room.
// Uses `playwright-core` with /usr/bin/chromium; it never downloads a browser.
//
// Usage: node deflate-browser.mjs <baseUrl> <on|off>
//   on|off: whether the server has perMessageDeflate on. The page's WebSocket
//   must report the extension the server agreed to (`WebSocket.extensions`):
//   "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
//   when on, nothing when off.
//
// Prints "ok deflate-browser" at the end, exit status 0; on a failure
// "FAIL deflate-browser: <reason>", exit status 1; a usage error exits with 2.
// Every wait has a deadline, and a watchdog limits the whole run.

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'];
const WAIT_MS = 10_000;
const OVERALL_DEADLINE_MS = 60_000;
const AGREED = 'permessage-deflate; server_no_context_takeover; client_no_context_takeover';

class Failure extends Error {}

function fail(message) {
  throw new Failure(message);
}

const [BASE_URL, MODE] = process.argv.slice(2);
if (!/^https?:\/\//.test(BASE_URL ?? '') || !['on', 'off'].includes(MODE)) {
  console.error('usage: node deflate-browser.mjs <baseUrl> <on|off>');
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
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
}

const watchdog = setTimeout(() => {
  console.log(`FAIL deflate-browser: the run did not finish within ${OVERALL_DEADLINE_MS} ms`);
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  process.exit(1);
}, OVERALL_DEADLINE_MS);
watchdog.unref();

/** What the page does: connect, join, send the long message, get it back. */
async function inPage({ text, waitMs }) {
  const deadline = (promise, what) => Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`no ${what} within ${waitMs} ms`)), waitMs)),
  ]);
  const socket = window.io({ transports: ['websocket'], auth: { name: 'Deflate' }, forceNew: true, reconnection: false });
  try {
    await deadline(new Promise((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', (err) => reject(new Error(`connect_error: ${err.message}`)));
    }), 'connection');
    const extensions = socket.io.engine.transport.ws.extensions;
    const room = `deflate-${Math.random().toString(36).slice(2, 8)}`;
    await deadline(socket.emitWithAck('join', room), 'join ack');
    const echoed = deadline(new Promise((resolve) => socket.once('chat message', resolve)), 'chat message');
    const ack = await deadline(socket.emitWithAck('chat message', { room, text }), 'chat message ack');
    const message = await echoed;
    return { extensions, ack, message };
  } finally {
    socket.close();
  }
}

async function main() {
  if (!existsSync(CHROMIUM)) fail(`${CHROMIUM} is missing: install Debian's chromium package`);
  const { chromium } = await import('playwright-core');
  userDataDir = mkdtempSync(join(tmpdir(), 'rally-deflate-browser-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: WAIT_MS * 3,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(WAIT_MS);
  const response = await page.goto(BASE_URL, { waitUntil: 'load', timeout: WAIT_MS });
  if (!response || response.status() !== 200) fail(`GET ${BASE_URL} answered ${response?.status()}`);
  if (!(await page.evaluate(() => typeof window.io === 'function'))) fail('/socket.io/socket.io.js did not load');

  // JSON-ish chat text, 2000 characters (the demo's longest).
  const text = Array.from({ length: 100 }, (_, i) => `{"n":${i},"msg":"hello"}`).join(' ').slice(0, 2000);
  const { extensions, ack, message } = await page.evaluate(inPage, { text, waitMs: WAIT_MS });
  const expected = MODE === 'on' ? AGREED : '';
  if (extensions !== expected) fail(`the WebSocket agreed "${extensions}", expected "${expected}"`);
  if (ack?.ok !== true) fail(`the chat message was refused: ${JSON.stringify(ack)}`);
  if (message?.text !== text || message?.name !== 'Deflate') fail(`the message came back changed: ${JSON.stringify(message).slice(0, 200)}`);
  console.log(`deflate-browser: Chromium ${context.browser()?.version() ?? ''} agreed "${extensions}", ${text.length} characters both ways`);
}

try {
  await main();
  await cleanup();
  console.log('ok deflate-browser');
} catch (err) {
  console.log(err instanceof Failure ? `FAIL deflate-browser: ${err.message}` : `FAIL deflate-browser: ${err?.stack ?? err}`);
  await cleanup();
  process.exit(1);
}
