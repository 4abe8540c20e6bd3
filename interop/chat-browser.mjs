#!/usr/bin/env node
// Browser check of the chat demo page: two Chromium browser contexts load the
// page from a server (`rally serve`, or the reference ref-chat-server.mjs),
// pick nicknames, join one room and chat, through the page's own form fields
// and buttons. Uses `playwright-core` with Debian's Chromium (/usr/bin/chromium);
// it never downloads a browser.
//
// Usage: node chat-browser.mjs <baseUrl> <screenshotPath>
//   e.g. node chat-browser.mjs http://127.0.0.1:3000 /tmp/chat.png
// An https:// baseUrl is trusted whatever its certificate (a test CA's).
//
// Checks: the page loads /socket.io/socket.io.js; both pages connect (status
// "connected"); both join the room and show 2 members; page A types, page B
// shows "Alice is typing…", A sends, B shows the message (name, time, text, as
// text, not HTML) and the indicator goes; an error ack (a 2001-character text)
// is shown inline on A; B replies and both see it, B's as its own. Then A
// types again and, with the indicator showing, page B (full page) is saved
// to screenshotPath as a PNG.
//
// Prints one line per step and "ok browser" at the end, exit status 0; on a
// failure "FAIL browser: <reason>", exit status 1; a usage error exits with 2.
// Every wait has a deadline, and a watchdog limits the whole run.

import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

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
const OVERALL_DEADLINE_MS = 90_000; // the whole run
const VIEWPORT = { width: 1180, height: 760 };
const TAG = Math.random().toString(36).slice(2, 8);

class Failure extends Error {}

function fail(message) {
  throw new Failure(message);
}

function log(line) {
  console.log(line);
}

function usage() {
  console.error('usage: node chat-browser.mjs <baseUrl> <screenshotPath>');
  console.error('  e.g. node chat-browser.mjs http://127.0.0.1:3000 /tmp/chat.png');
  process.exit(2);
}

const [BASE_URL, SHOT, extra] = process.argv.slice(2);
if (!BASE_URL || !SHOT || extra !== undefined || !/^https?:\/\//.test(BASE_URL)) usage();
const HTTPS = BASE_URL.startsWith('https://');

let browserContext = null; // the persistent context that owns the browser process
let userDataDir = null;

async function cleanup() {
  try {
    // Closing the persistent context ends the browser; bounded, like every wait.
    await Promise.race([browserContext?.close(), new Promise((done) => setTimeout(done, 5_000).unref())]);
  } catch {
    // the browser may already be gone
  }
  browserContext = null;
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  userDataDir = null;
}

const watchdog = setTimeout(() => {
  console.log(`FAIL browser: the run did not finish within ${OVERALL_DEADLINE_MS} ms`);
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  process.exit(1); // playwright kills the browser it launched when the process exits
}, OVERALL_DEADLINE_MS);
watchdog.unref();

/** Runs `promise` (a playwright wait) and turns its timeout into a readable failure. */
async function step(what, promise) {
  try {
    return await promise;
  } catch (err) {
    if (err instanceof Failure) throw err;
    fail(`${what}: ${String(err?.message ?? err).split('\n')[0]}`);
  }
}

/** One browser page: a nickname, its page errors. */
class ChatPage {
  constructor(label, page) {
    this.label = label;
    this.page = page;
    this.errors = [];
    page.setDefaultTimeout(WAIT_MS);
    page.on('pageerror', (err) => this.errors.push(`uncaught ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error') this.errors.push(`console error: ${msg.text()}`);
    });
  }

  check() {
    if (this.errors.length) fail(`${this.label}: ${this.errors.join('; ')}`);
  }

  $(selector) {
    return this.page.locator(selector);
  }

  async waitText(selector, expected, what) {
    await step(`${this.label}: ${what}`, this.page.waitForFunction(
      ([sel, text]) => document.querySelector(sel)?.textContent.includes(text),
      [selector, expected],
      { timeout: WAIT_MS },
    ));
  }

  async members(count) {
    await step(`${this.label}: member count ${count}`, this.page.waitForFunction(
      (n) => document.querySelector('#members')?.dataset.count === String(n),
      count,
      { timeout: WAIT_MS },
    ));
    const text = (await this.$('#members').textContent()).trim();
    const expected = `${count} ${count === 1 ? 'member' : 'members'}`;
    if (text !== expected) fail(`${this.label}: #members shows "${text}", expected "${expected}"`);
  }

  /** The message entries shown, as {name, text, own, time}. */
  messages() {
    return this.page.$$eval('#messages [data-testid="message"]', (nodes) => nodes.map((node) => ({
      name: node.dataset.name,
      text: node.querySelector('.text')?.textContent,
      time: node.querySelector('.time')?.textContent,
      own: node.classList.contains('own'),
      elements: node.querySelector('.text')?.children.length,
    })));
  }

  async waitMessage(text, what) {
    await step(`${this.label}: ${what}`, this.page.waitForFunction(
      (t) => [...document.querySelectorAll('#messages [data-testid="message"] .text')].some((n) => n.textContent === t),
      text,
      { timeout: WAIT_MS },
    ));
    const found = (await this.messages()).filter((m) => m.text === text);
    if (found.length !== 1) fail(`${this.label}: ${what}: the message is shown ${found.length} times`);
    return found[0];
  }

  async open(name) {
    const response = await step(`${this.label}: load ${BASE_URL}`, this.page.goto(BASE_URL, { waitUntil: 'load', timeout: WAIT_MS }));
    if (!response || response.status() !== 200) fail(`${this.label}: GET ${BASE_URL} answered ${response?.status()}`);
    if (!(await this.page.evaluate(() => typeof window.io === 'function'))) {
      fail(`${this.label}: the page has no global io(): /socket.io/socket.io.js did not load`);
    }
    await step(`${this.label}: fill #name`, this.$('#name').fill(name));
    await step(`${this.label}: click #connect`, this.$('#connect').click());
    await step(`${this.label}: status "connected"`, this.page.waitForSelector('#status[data-state="connected"]', { timeout: WAIT_MS }));
    const status = (await this.$('#status').textContent()).trim();
    if (status !== 'connected') fail(`${this.label}: #status shows "${status}", expected "connected"`);
    this.check();
  }

  async join(room) {
    await step(`${this.label}: fill #room`, this.$('#room').fill(room));
    await step(`${this.label}: click #join`, this.$('#join').click());
    await step(`${this.label}: ${room} in #rooms`, this.page.waitForFunction(
      (r) => [...document.querySelectorAll('#rooms li')].some((li) => li.dataset.room === r),
      room,
      { timeout: WAIT_MS },
    ));
    await this.waitText('#room-name', room, `current room ${room}`);
    this.check();
  }
}

async function main() {
  if (!existsSync(CHROMIUM)) {
    fail(`${CHROMIUM} is missing: install Debian's chromium package (apt-get install -y chromium); this script never downloads a browser`);
  }
  let chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch (err) {
    fail(`cannot load playwright-core (run "npm ci" in interop/): ${err.message}`);
  }

  userDataDir = mkdtempSync(join(tmpdir(), 'rally-chat-browser-'));
  // A persistent context is how playwright takes a --user-data-dir; the second
  // context is a fresh, separate one in the same browser.
  browserContext = await step('launch Chromium', chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: VIEWPORT,
    timeout: WAIT_MS * 3,
    // An https server of a test has a certificate from the test's own CA.
    ignoreHTTPSErrors: HTTPS,
  }));
  const browser = browserContext.browser();
  if (!browser) fail('no Browser object for the persistent context');
  const contextB = await step('open a second browser context', browser.newContext({ viewport: VIEWPORT, ignoreHTTPSErrors: HTTPS }));
  log(`browser: Chromium ${browser.version()}, user data dir ${userDataDir}`);

  const A = new ChatPage('page A', browserContext.pages()[0] ?? await browserContext.newPage());
  const B = new ChatPage('page B', await contextB.newPage());
  const room = `general-${TAG}`;

  // Nicknames and the room.
  await A.open('Alice');
  await B.open('Bob');
  log('browser: both pages loaded the page and the client bundle, and connected');
  await A.join(room);
  await A.members(1);
  await B.join(room);
  await B.members(2);
  await A.members(2);
  await A.waitText('#messages', 'Bob joined', 'system line "Bob joined"');
  log(`browser: both joined ${room}; both show 2 members; A shows "Bob joined"`);

  // A types: B shows the indicator. Then A sends: B shows the message.
  const first = 'Hi Bob! Is <b>this</b> bold? It should not be: user text is escaped & safe.';
  const typing = step('page A: type into #message', A.$('#message').pressSequentially(first, { delay: 25 }));
  await B.waitText('#typing', 'Alice is typing', 'typing indicator "Alice is typing…"');
  await typing;
  log('browser: B shows "Alice is typing…" while A types');
  await step('page A: click #send', A.$('#send').click());
  const onB = await B.waitMessage(first, 'the message from Alice');
  if (onB.name !== 'Alice' || onB.own) fail(`page B: Alice's message shows as ${JSON.stringify(onB)}, expected name Alice, not own`);
  if (onB.elements !== 0) fail('page B: the message text became HTML elements (user text must be escaped)');
  if (!/\d/.test(onB.time ?? '')) fail(`page B: the message has no time (${JSON.stringify(onB.time)})`);
  const onA = await A.waitMessage(first, 'its own message');
  if (!onA.own) fail('page A: its own message is not marked as its own');
  if ((await A.$('#message').inputValue()) !== '') fail('page A: #message was not cleared after sending');
  await step('page B: the typing indicator goes after the message', B.page.waitForFunction(
    () => document.querySelector('#typing')?.textContent.trim() === '',
    null,
    { timeout: 4_000 },
  ));
  log('browser: B shows the message (name, time, text as text); A shows it as its own; the indicator is gone');

  // An error ack is shown inline.
  const tooLong = 'z'.repeat(2001);
  await step('page A: fill #message with 2001 characters', A.$('#message').fill(tooLong));
  await step('page A: click #send', A.$('#send').click());
  await step('page A: error ack shown in #message-error', A.page.waitForFunction(
    () => document.querySelector('#message-error')?.textContent.trim() !== '',
    null,
    { timeout: WAIT_MS },
  ));
  const errorText = (await A.$('#message-error').textContent()).trim();
  if (!(await A.$('#message-error').isVisible())) fail('page A: #message-error is not visible');
  if ((await A.$('#message').inputValue()) !== tooLong) fail('page A: the refused text was not given back in #message');
  await step('page A: clear #message', A.$('#message').fill(''));
  log(`browser: A shows the error ack inline: "${errorText}"`);

  // B replies; both see it.
  const reply = 'Hey Alice! Plain text indeed. Rally is Socket.IO in Rust: rooms, acks and typing all work.';
  await step('page B: fill #message', B.$('#message').fill(reply));
  await step('page B: press Enter', B.$('#message').press('Enter'));
  const replyOnB = await B.waitMessage(reply, 'its own reply');
  if (!replyOnB.own) fail('page B: its own reply is not marked as its own');
  const replyOnA = await A.waitMessage(reply, 'the reply from Bob');
  if (replyOnA.own || replyOnA.name !== 'Bob') fail(`page A: Bob's reply shows as ${JSON.stringify(replyOnA)}`);
  if ((await B.messages()).some((m) => m.text === tooLong)) fail('page B: the refused 2001-character text was shown');
  log('browser: B replied (Enter); both show it; the refused text reached nobody');

  // A types again; with the indicator showing, screenshot page B.
  const typingAgain = step('page A: type again', A.$('#message').pressSequentially('Great, see you in #general', { delay: 20 }));
  await B.waitText('#typing', 'Alice is typing', 'typing indicator again');
  await A.members(2);
  await B.members(2);
  A.check();
  B.check();
  await step('page B: screenshot', B.page.screenshot({ path: SHOT, fullPage: true }));
  await typingAgain;
  const size = statSync(SHOT).size;
  if (size < 1000) fail(`the screenshot ${SHOT} has only ${size} bytes`);
  log(`browser: screenshot of page B (full page, ${size} bytes): ${resolve(SHOT)}`);
}

try {
  await main();
  await cleanup();
  clearTimeout(watchdog);
  log('ok browser');
} catch (err) {
  if (err instanceof Failure) {
    console.log(`FAIL browser: ${err.message}`);
  } else {
    console.log('FAIL browser: unexpected error');
    console.log(err?.stack ?? String(err));
  }
  await cleanup();
  process.exit(1);
}
