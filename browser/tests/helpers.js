// What the browser tests share: the gateway started by scripts/browser-tests.sh, direct API
// calls for setting up (as a second client would), and a browser page that fails its test
// on any script error or Content-Security-Policy violation.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

export const BASE_URL = process.env.BASE_URL;
export const ADMIN_TOKEN = process.env.ADMIN_TOKEN;
const SCREENSHOTS_DIR = process.env.SCREENSHOTS_DIR;

if (!BASE_URL || !ADMIN_TOKEN || !process.env.CHROMIUM) {
  throw new Error('run through scripts/browser-tests.sh (BASE_URL, ADMIN_TOKEN, CHROMIUM)');
}

/** A JSON API call outside the browser, with a bearer token. */
export async function call(method, path, token, body) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(BASE_URL + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, body: json, text };
}

/** Every API key the tests saw: none may appear in the gateway's log. */
const secrets = [];

/** Remembers a key the gateway must never log. */
export function secret(key) {
  secrets.push(key);
  return key;
}

/** Asserts that no key the tests saw is in the gateway's log (GATEWAY_LOG). */
export function assertNoSecretInLog() {
  const log = readFileSync(process.env.GATEWAY_LOG, 'utf8');
  for (const key of [...secrets, ADMIN_TOKEN]) assert.ok(!log.includes(key), "a key is in the gateway's log");
}

/** A customer made through the admin API, with a balance: { id, name, key }. */
export async function customer(prefix, balance = 100) {
  const name = `${prefix}-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
  const r = await call('POST', '/admin/customers', ADMIN_TOKEN, { name, balance });
  assert.equal(r.status, 201, r.text);
  return { id: r.body.customer_id, name, key: secret(r.body.api_key) };
}

let browser;

/** The shared browser (Debian's chromium, never a downloaded one). */
export async function launch() {
  browser ??= await chromium.launch({
    executablePath: process.env.CHROMIUM,
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
  return browser;
}

/** Closes the browser and checks the gateway's log (each test file's `after`). */
export async function closeBrowser() {
  if (browser) await browser.close();
  browser = undefined;
  assertNoSecretInLog();
}

/**
 * A fresh browser context (its own cookies) and page at `width` px. Script errors and CSP
 * violations are collected in `page.problems`; `done()` asserts there were none.
 */
export async function openPage({ width = 1280, height = 900 } = {}) {
  const b = await launch();
  const context = await b.newContext({ viewport: { width, height } });
  const page = await context.newPage();
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    // 4xx answers the tests provoke on purpose are logged by chromium as failed resources.
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) page.problems.push(`console: ${m.text()}`);
  });
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  page.done = async () => {
    await context.close();
    assert.deepEqual(page.problems, [], 'no script error and no CSP violation');
  };
  return page;
}

/** Signs in through the form with the keyboard only (a key or the admin token). */
export async function signIn(page, key) {
  await page.goto(`${BASE_URL}/console/`);
  const field = page.getByLabel('API key or admin token');
  await field.waitFor();
  await field.focus();
  await page.keyboard.type(key);
  await page.keyboard.press('Enter');
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

/** Saves a screenshot as SCREENSHOTS_DIR/name.png when SCREENSHOTS_DIR is set. */
export async function screenshot(page, name) {
  if (!SCREENSHOTS_DIR) return;
  await page.screenshot({ path: `${SCREENSHOTS_DIR}/${name}.png`, fullPage: true });
}
