// The admin in the console: creates a customer, tops it up, sets its limits and a sender id,
// pauses and resumes dispatch, looks at the dead letters.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { ADMIN_TOKEN, call, closeBrowser, openPage, screenshot, secret, signIn } from './helpers.js';

after(closeBrowser);

test('the admin creates a customer, tops it up, and pauses and resumes dispatch', async () => {
  const page = await openPage();
  await signIn(page, ADMIN_TOKEN);
  assert.equal(await page.getByTestId('who').textContent(), 'Admin');

  const name = `made-in-console-${Date.now()}`;
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByLabel('Initial balance (credits)').fill('5');
  await page.getByRole('button', { name: 'Create customer' }).click();
  const key = secret(await page.getByTestId('created-key').inputValue());
  assert.match(key, /^sk_/);
  assert.equal((await call('GET', '/balance', key)).body.balance, 5);

  await page.getByLabel('Search by name').fill(name);
  await page.getByRole('button', { name: 'Search' }).click();
  await page.waitForURL(/search=/);
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="customer-row"]').length === 1);
  await screenshot(page, 'admin-customers');
  await page.getByRole('link', { name }).click();
  // The customer's page is named after it and shows its settings (GET /admin/customers/{id}).
  await page.getByRole('heading', { name, level: 1 }).waitFor();
  await page.getByTestId('customer-facts').filter({ hasText: 'Console sessions' }).waitFor();

  await page.getByLabel('Credits to add').fill('120');
  await page.getByLabel('Description (optional)').fill('console top-up');
  await page.getByRole('button', { name: 'Top up' }).click();
  await page.getByTestId('customer-balance').filter({ hasText: '125' }).waitFor();
  assert.equal((await call('GET', '/balance', key)).body.balance, 125);

  await page.getByLabel('Weight').fill('250');
  await page.getByRole('button', { name: 'Save limits' }).click();
  await page.getByText('Saved.').waitFor();
  await page.getByTestId('customer-facts').filter({ hasText: /Weight\s*250/ }).waitFor();
  await page.getByLabel('New sender id').fill('ACME');
  await page.getByRole('button', { name: 'Add sender id' }).click();
  await page.getByText('ACME').first().waitFor();
  // An invalid sender id shows the API's problem document and its field.
  await page.getByLabel('New sender id').fill('!!');
  await page.getByRole('button', { name: 'Add sender id' }).click();
  await page.getByRole('alert').filter({ hasText: 'sender' }).waitFor();
  await screenshot(page, 'admin-customer');
  // The customer's sessions end; its key still works.
  const customerSession = await call('POST', '/session', null, { key });
  assert.equal(customerSession.status, 201);
  await page.getByRole('button', { name: 'End its console sessions' }).click();
  await page.getByText('1 session(s) ended.').waitFor();
  await page.getByTestId('customer-sessions').filter({ hasText: /^0$/ }).waitFor();
  assert.equal((await call('GET', '/balance', key)).status, 200);

  // The lanes' throughput is the gateway's (GET /admin/lanes, every worker process): the
  // customer's SMS, sent through the API, shows in the normal lane's last minute.
  const sent = await call('POST', '/sms/send', key, { text: 'counted', recipients: ['+989121234567', '+989121234568'] });
  assert.equal(sent.status, 202, sent.text);
  await page.getByRole('link', { name: 'Operators' }).click();
  await page.getByTestId('operator-row').first().waitFor();
  await page.waitForFunction(() => Number(document.querySelector('[data-testid="sent-normal"]')?.textContent.replace(/\D/g, '')) >= 2);
  // The page's own refreshes say so: they do not keep the session from going idle.
  await page.waitForRequest((r) => r.url().endsWith('/admin/lanes') && r.headers()['x-background-refresh'] === '1');
  await page.getByTestId('dispatch-state').filter({ hasText: 'running' }).waitFor();
  await page.getByRole('button', { name: 'Pause dispatch' }).click();
  await page.getByTestId('dispatch-state').filter({ hasText: 'paused' }).waitFor();
  assert.equal((await call('GET', '/admin/operators', ADMIN_TOKEN)).body.dispatch_paused, true);
  await page.getByRole('button', { name: 'Resume dispatch' }).click();
  await page.getByTestId('dispatch-state').filter({ hasText: 'running' }).waitFor();
  assert.equal((await call('GET', '/admin/operators', ADMIN_TOKEN)).body.dispatch_paused, false);
  await screenshot(page, 'admin-operators');

  await page.getByRole('link', { name: 'Dead letters' }).click();
  await page.getByTestId('dead-letter-total').waitFor();
  page.problems = page.problems.filter((p) => !/400/.test(p));
  await page.done();
});
