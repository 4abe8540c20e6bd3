#!/usr/bin/env node
// The Socket.IO Admin UI itself (@socket.io/admin-ui 0.5.1, the web app), as
// `rally serve --admin-ui` serves it at /admin/, in Debian's Chromium through
// `playwright-core` (it never downloads a browser).
//
// Usage: node admin-browser.mjs <baseUrl> <username> <password> <screenshotDir>
//
// Two test clients (socket.io-client 4.8.4, the chat demo's protocol) connect
// to the server and join rooms. The page loads /admin/, finds the server's URL
// filled in, logs in through its form, and must show both clients' socket ids
// on the sockets page and their rooms on the rooms page; it is reloaded and
// must come back without a login (the session restore). Screenshots of both
// pages are saved as admin-ui-sockets.png and admin-ui-rooms.png in
// <screenshotDir>. Requests to other hosts (the page's web fonts) are refused.
//
// Prints one line per step and "ok admin-browser" at the end, exit status 0;
// on a failure "FAIL admin-browser: <reason>", exit status 1; a usage error
// exits with 2. Every wait has a deadline, and a watchdog limits the run.

import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io } from 'socket.io-client';

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
const WAIT_MS = 15_000;
const OVERALL_DEADLINE_MS = 120_000;
const VIEWPORT = { width: 1280, height: 800 };
const TAG = Math.random().toString(36).slice(2, 8);

class Failure extends Error {}

function fail(message) {
  throw new Failure(message);
}

const [BASE_URL, USER, PASSWORD, SHOTS, extra] = process.argv.slice(2);
if (!BASE_URL || !USER || !PASSWORD || !SHOTS || extra !== undefined) {
  console.error('usage: node admin-browser.mjs <baseUrl> <username> <password> <screenshotDir>');
  process.exit(2);
}

let context = null;
let userDataDir = null;
const clients = [];

async function cleanup() {
  for (const c of clients) c.close();
  try {
    await Promise.race([context?.close(), new Promise((done) => setTimeout(done, 5_000).unref())]);
  } catch {
    // the browser may be gone already
  }
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
}

const watchdog = setTimeout(() => {
  console.log(`FAIL admin-browser: the run did not finish within ${OVERALL_DEADLINE_MS} ms`);
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

/// A chat client named `name` in `rooms`; resolves once it joined them.
async function chatClient(name, rooms) {
  const socket = io(BASE_URL, { forceNew: true, reconnection: false, auth: { name }, transports: ['websocket'] });
  clients.push(socket);
  await step(`client ${name}: connect`, new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', (e) => reject(new Error(e.message)));
    setTimeout(() => reject(new Error('timeout')), WAIT_MS).unref();
  }));
  for (const room of rooms) {
    await step(`client ${name}: join ${room}`, socket.timeout(WAIT_MS).emitWithAck('join', room));
  }
  return socket;
}

/// Waits until the page's text holds every one of `texts`.
async function shows(page, texts, what) {
  await step(what, page.waitForFunction(
    (wanted) => wanted.every((t) => document.body.innerText.includes(t)),
    texts,
    { timeout: WAIT_MS },
  ));
}

async function screenshot(page, name) {
  const path = join(SHOTS, name);
  await step(`screenshot ${name}`, page.screenshot({ path, fullPage: true, animations: 'disabled' }));
  const size = statSync(path).size;
  if (size < 1000) fail(`the screenshot ${path} has only ${size} bytes`);
  console.log(`admin-browser: ${path} (${size} bytes)`);
}

async function main() {
  if (!existsSync(CHROMIUM)) fail(`${CHROMIUM} is missing: install Debian's chromium package`);
  let chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch (err) {
    fail(`cannot load playwright-core (run "npm ci" in interop/): ${err.message}`);
  }
  const room = `room-${TAG}`;
  const ada = await chatClient(`Ada-${TAG}`, [room, `ada-only-${TAG}`]);
  const bob = await chatClient(`Bob-${TAG}`, [room]);
  console.log(`admin-browser: clients ${ada.id} and ${bob.id} in ${room}`);

  userDataDir = mkdtempSync(join(tmpdir(), 'rally-admin-browser-'));
  context = await step('launch Chromium', chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: VIEWPORT,
    timeout: WAIT_MS * 2,
  }));
  const origin = new URL(BASE_URL).origin;
  await context.route((url) => url.origin !== origin, (route) => route.abort());
  const page = context.pages()[0] ?? await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  const errors = [];
  page.on('pageerror', (err) => errors.push(err.message));

  const response = await step('load /admin/', page.goto(`${BASE_URL}/admin/`, { waitUntil: 'domcontentloaded' }));
  if (response.status() !== 200) fail(`/admin/ answered ${response.status()}`);
  // Without a login the UI shows its connection form, the URL filled in.
  const url = page.getByLabel('Server URL');
  await step('the connection form', url.waitFor({ state: 'visible' }));
  const filled = await url.inputValue();
  if (filled !== origin) fail(`the server URL field holds ${JSON.stringify(filled)}, not ${origin}`);
  await page.getByLabel('Username').fill(USER);
  await page.getByLabel('Password').fill(PASSWORD);
  await step('log in', page.getByRole('button', { name: 'Connect' }).click());
  await step('the form closes', url.waitFor({ state: 'hidden' }));
  console.log('admin-browser: logged in');

  await step('the sockets page', page.goto(`${BASE_URL}/admin/#/sockets/`));
  await shows(page, [ada.id, bob.id], 'both clients on the sockets page');
  await screenshot(page, 'admin-ui-sockets.png');
  await step('the rooms page', page.goto(`${BASE_URL}/admin/#/rooms/`));
  await shows(page, [room, `ada-only-${TAG}`], 'their rooms on the rooms page');
  await screenshot(page, 'admin-ui-rooms.png');
  console.log('admin-browser: sockets and rooms shown');

  // A reload logs in again with the session id the server gave.
  await step('reload', page.reload({ waitUntil: 'domcontentloaded' }));
  await step('the sockets page again', page.goto(`${BASE_URL}/admin/#/sockets/`));
  await shows(page, [ada.id, bob.id], 'the sockets after a reload, without a login');
  if (await page.getByLabel('Password').isVisible()) fail('the reloaded page asks for a login again');
  if (errors.length) fail(`page errors: ${errors.join('; ')}`);
}

try {
  await main();
  await cleanup();
  clearTimeout(watchdog);
  console.log('ok admin-browser');
  process.exit(0);
} catch (err) {
  console.log(`FAIL admin-browser: ${err instanceof Failure ? err.message : err?.stack ?? err}`);
  await cleanup();
  process.exit(1);
}
