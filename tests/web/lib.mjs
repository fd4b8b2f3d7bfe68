// Shared helpers of the browser tests: Chromium from Debian through playwright-core, an axe-core
// check (WCAG 2.1 A and AA, as RGAA asks) and console-error watch on every page, screenshots, TOTP.
import { chromium } from 'playwright-core';
import axe from 'axe-core';
import { createHmac } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { spawn } from 'node:child_process';

/// Chromium; `extra` adds switches (the fake microphone of the messages page, for one).
export async function launch(extra = []) {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required', ...extra],
  });
}

/// Chromium's fake capture devices (its microphone plays a beep) and no permission prompt.
export const FAKE_MEDIA = ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'];

let asking = null;
let answers = null;

/// Hand over to the Rust test driving this script: print `WAIT what` and resolve with the line it
/// writes back on stdin (a real call made meanwhile, for one).
export async function ask(what) {
  if (!answers) {
    const { createInterface } = await import('node:readline');
    asking = createInterface({ input: process.stdin });
    answers = asking[Symbol.asyncIterator]();
  }
  console.log(`WAIT ${what}`);
  const { value, done } = await answers.next();
  if (done) throw new Error(`no answer to ${what}: stdin closed`);
  return value;
}

/// Stop reading stdin (else the script never ends).
export function stopAsking() {
  if (asking) asking.close();
  process.stdin.destroy();
}

/// A page whose console errors and uncaught exceptions are collected.
export async function watchedPage(context) {
  const page = await context.newPage();
  page.errors = [];
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    // A form answered with its error status (401, 422, 429...) is logged by Chromium as a failed
    // load of the document itself: that status is intended; any other resource failing is not.
    if (m.text().startsWith('Failed to load resource') && m.location().url === page.url()) return;
    page.errors.push(`console: ${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (e) => page.errors.push(`exception: ${e.message}`));
  watchedPage.last = page;
  return page;
}

/// Screenshot, accessibility and console check of the page as it is now.
export async function check(page, name, shots) {
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
  await page.evaluate(axe.source);
  const result = await page.evaluate(() => axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
  }));
  const problems = result.violations.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  if (problems.length) throw new Error(`${name}: accessibility violations:\n  ${problems.join('\n  ')}`);
  if (page.errors.length) throw new Error(`${name}: errors in the page:\n  ${page.errors.join('\n  ')}`);
  console.log(`PAGE ${name} ok (${page.url()})`);
}

function base32(s) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of s.replace(/=+$/, '').toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

/// RFC 6238 code (SHA-1, 6 digits, 30 s) of a base32 secret at `ms`.
export function totp(secret, ms = Date.now()) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(ms / 30000)));
  const h = createHmac('sha1', base32(secret)).update(counter).digest();
  const o = h[h.length - 1] & 0xf;
  return String((h.readUInt32BE(o) & 0x7fffffff) % 1000000).padStart(6, '0');
}

/// Sleep into the next 30 s step (a code is accepted once).
export async function nextStep() {
  await new Promise((ok) => setTimeout(ok, 30000 - (Date.now() % 30000) + 300));
}

export function expect(cond, what) {
  if (!cond) throw new Error(what);
}

/// Sign in through the pages from an account's first password: the forced change, then TOTP
/// enrolment when the role asks for it. Returns the TOTP secret, if any.
export async function firstSignIn(page, base, account, first, next) {
  await page.goto(`${base}/login`);
  await page.fill('#account', account);
  await page.fill('#password', first);
  await page.click('#submit');
  await page.waitForURL(`${base}/account/password`);
  await page.fill('#old', first);
  await page.fill('#new', next);
  await page.fill('#again', next);
  await page.click('#submit');
  let secret = null;
  if (page.url() === `${base}/account/totp` || (await page.$('#secret'))) {
    secret = (await page.textContent('#secret')).trim();
    await page.fill('#code', totp(secret));
    await page.click('#submit');
    await page.waitForSelector('#recovery-codes');
    await page.click('#continue');
  }
  await page.waitForURL((u) => !u.pathname.startsWith('/account/') && !u.pathname.startsWith('/login'));
  return secret;
}

/// Run SIPp (Debian's sip-tester) against softswitch; resolves with its exit code.
export function sipp(sip, scenario, service, args = []) {
  return new Promise((ok) => {
    const p = spawn('sipp', [sip, '-sf', `../sipp/${scenario}`, '-s', service, '-i', '127.0.0.1', '-p', '0', '-mp', '0',
      '-nostdin', '-timeout', '60s', '-timeout_error', ...args], { cwd: process.cwd(), stdio: 'ignore' });
    p.on('exit', (code) => ok(code));
    sipp.children.push(p);
  });
}
sipp.children = [];

/// On a failure: what the last page logged, its address, and a screenshot of it.
export async function explain(e, shots) {
  console.error(`FAILED: ${e.stack || e}`);
  const page = watchedPage.last;
  if (!page) return;
  console.error(`at ${page.url()}; errors in the page: ${JSON.stringify(page.errors)}`);
  try {
    mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: `${shots}/failure.png`, fullPage: true });
  } catch (_) { /* the page may be gone */ }
}
