// A customer in the console: signs in, sends an SMS and watches it reach DELIVERED, filters
// the history, rotates its key (the old one stops working); it reaches neither the admin's
// pages nor another customer's data; a write without the CSRF token is refused.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { ADMIN_TOKEN, BASE_URL, call, closeBrowser, customer, openPage, screenshot, secret, signIn } from './helpers.js';

after(closeBrowser);

test('a customer signs in, sends an SMS, watches it delivered, filters the history and rotates its key', async () => {
  const me = await customer('console', 100);
  const page = await openPage();
  await signIn(page, me.key);
  assert.equal(await page.getByTestId('who').textContent(), `${me.name} (#${me.id})`);
  // The key is in no URL and in no storage a script can read; the cookie is HttpOnly.
  assert.ok(!page.url().includes(me.key));
  const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie);
  assert.ok(!stored.includes(me.key) && !stored.includes('smsgw_session'), stored);
  const [cookie] = await page.context().cookies();
  assert.equal(cookie.name, 'smsgw_session');
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, 'Strict');
  await page.getByTestId('balance').filter({ hasText: '100' }).waitFor();

  // The send form: the server's quote follows the text.
  await page.getByRole('link', { name: 'Send', exact: true }).click();
  await page.getByLabel('Text').fill('hello from the console');
  await page.getByLabel('Recipients').fill('+989121234567\n09127654321');
  await page.getByTestId('quote-cost').filter({ hasText: '2' }).waitFor();
  assert.equal(await page.getByTestId('quote-encoding').textContent(), 'GSM-7');
  await page.getByLabel('Text').fill('سلام '.repeat(20));
  await page.getByTestId('quote-segments').filter({ hasText: '2 segments' }).waitFor();
  assert.equal(await page.getByTestId('quote-encoding').textContent(), 'UCS-2');
  await page.getByLabel('Text').fill('hello from the console');
  await page.getByLabel('Your reference (optional)').fill('order-42');
  await page.getByTestId('quote-cost').filter({ hasText: '2' }).waitFor();
  await screenshot(page, 'send');
  await page.getByRole('button', { name: 'Send', exact: true }).click();

  // The detail page refreshes until both recipients are delivered.
  await page.waitForURL(/#\/sms\//);
  const smsId = decodeURIComponent(page.url().split('#/sms/')[1]);
  const statuses = page.getByTestId('recipient-status');
  await statuses.first().waitFor();
  await page.waitForFunction(() => {
    const all = [...document.querySelectorAll('[data-testid="recipient-status"]')];
    return all.length === 2 && all.every((e) => e.textContent === 'DELIVERED');
  }, null, { timeout: 20000 });
  await screenshot(page, 'detail');

  // Another request, then the history filtered by reference and by status.
  const other = await call('POST', '/sms/send', me.key, { text: 'other', recipients: ['+989120000001'] });
  assert.equal(other.status, 202, other.text);
  await page.getByRole('link', { name: 'History' }).click();
  await page.getByTestId('history-row').nth(2).waitFor();
  await screenshot(page, 'history');
  await page.getByLabel('Reference').fill('order-42');
  await page.getByRole('button', { name: 'Apply filters' }).click();
  await page.waitForURL(/reference=order-42/);
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="history-row"]').length === 2);
  assert.ok(await page.getByRole('link', { name: `${smsId.slice(0, 8)}…` }).first().isVisible());
  await page.getByLabel('Status').selectOption('FAILED');
  await page.getByRole('button', { name: 'Apply filters' }).click();
  await page.getByText('Nothing matches these filters.').waitFor();
  // Paging: one row per page, then the next page.
  await page.getByRole('button', { name: 'Clear' }).click();
  await page.getByLabel('Per page').fill('1');
  await page.getByRole('button', { name: 'Apply filters' }).click();
  await page.waitForURL(/limit=1/);
  await page.getByRole('button', { name: 'Next page' }).click();
  await page.waitForURL(/cursor=/);
  await page.getByRole('button', { name: 'First page' }).waitFor();
  await page.getByTestId('history-row').first().waitFor();
  assert.equal(await page.getByTestId('history-row').count(), 1);
  const csv = await page.getByRole('link', { name: 'Export CSV' }).getAttribute('href');
  assert.ok(csv.startsWith('/sms/history.csv'), csv);

  // Key rotation: the new key is shown once, the old one stops working, the session goes on.
  await page.getByRole('link', { name: 'Account' }).click();
  await page.getByRole('button', { name: 'Rotate the API key…' }).click();
  await page.getByRole('button', { name: 'Yes, rotate it' }).click();
  const newKey = secret(await page.getByTestId('new-key').inputValue());
  assert.match(newKey, /^sk_/);
  assert.equal((await call('GET', '/balance', me.key)).status, 401);
  assert.equal((await call('GET', '/balance', newKey)).status, 200);
  await page.getByRole('link', { name: 'Dashboard' }).click();
  await page.getByTestId('balance').filter({ hasText: '97' }).waitFor();
  await page.getByTestId('Today-sent').filter({ hasText: '3' }).waitFor();
  await screenshot(page, 'dashboard');

  // Signing out ends the session: the console shows the sign-in form again.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('API key or admin token').waitFor();
  const status = await page.evaluate(async () => (await fetch('/balance')).status);
  assert.equal(status, 401);
  await page.done();
});

test('a write with the session cookie but without the CSRF token is refused', async () => {
  const me = await customer('csrf', 10);
  const page = await openPage();
  await signIn(page, me.key);
  const answer = await page.evaluate(async () => {
    const r = await fetch('/sms/send', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ text: 'no token', recipients: ['+989121234567'] }),
    });
    return { status: r.status, body: await r.json() };
  });
  assert.equal(answer.status, 403);
  assert.match(answer.body.detail, /CSRF/);
  // Nothing was charged.
  assert.equal((await call('GET', '/balance', me.key)).body.balance, 10);
  page.problems = page.problems.filter((p) => !/403/.test(p));
  await page.done();
});

test("a customer reaches neither the admin's pages nor another customer's data", async () => {
  const me = await customer('mine', 10);
  const them = await customer('theirs', 10);
  const sent = await call('POST', '/sms/send', them.key, { text: 'private', recipients: ['+989121234567'] });
  assert.equal(sent.status, 202, sent.text);
  const page = await openPage();
  await signIn(page, me.key);
  await page.goto(`${BASE_URL}/console/#/customers`);
  await page.getByRole('heading', { name: 'Not here' }).waitFor();
  const answers = await page.evaluate(async ([otherId, smsId]) => {
    const status = async (path) => (await fetch(path)).status;
    return {
      admin: await status('/admin/customers'),
      operators: await status('/admin/operators'),
      balance: await status(`/balance?user_id=${otherId}`),
      detail: await status(`/sms/${smsId}`),
      history: await status(`/sms/history?user_id=${otherId}`),
    };
  }, [them.id, sent.body.sms_identifier]);
  assert.deepEqual(answers, { admin: 403, operators: 403, balance: 403, detail: 404, history: 403 });
  page.problems = page.problems.filter((p) => !/40[34]/.test(p));
  await page.done();
  assert.ok(ADMIN_TOKEN);
});

test('the console works at 375 px: the menu opens and nothing scrolls sideways', async () => {
  const me = await customer('phone', 10);
  const page = await openPage({ width: 375, height: 740 });
  await signIn(page, me.key);
  await page.getByTestId('balance').waitFor();
  const menu = page.getByRole('button', { name: 'Menu' });
  assert.equal(await menu.getAttribute('aria-expanded'), 'false');
  await menu.click();
  await page.getByRole('link', { name: 'Send', exact: true }).click();
  await page.getByLabel('Text').fill('hi');
  await page.getByTestId('quote-cost').waitFor();
  const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - innerWidth);
  assert.ok((await overflow()) <= 0, `the send page is ${await overflow()} px wider than the screen`);
  await screenshot(page, 'send-375px');
  // Wide tables scroll inside their box, not the page; the menu is reachable by keyboard.
  await page.getByRole('button', { name: 'Menu' }).focus();
  await page.keyboard.press('Enter');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'History');
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'History' }).waitFor();
  assert.ok((await overflow()) <= 0, `the history is ${await overflow()} px wider than the screen`);
  await page.done();
});
