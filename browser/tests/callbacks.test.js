// Delivery-status callbacks in the console: a customer sets its webhook URL (a private one
// outside CALLBACK_ALLOWED_HOSTS is refused with its problem document), receives signed POSTs
// it sees in the log, and rotates the signing secret (shown once, with the grace note); the
// admin opens a customer's parked callbacks from its customer page and replays them.
// scripts/browser-tests.sh allows 127.0.0.1/32 and retries for 1 s only, so events to a
// closed port park within seconds.

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import { after, test } from 'node:test';
import { ADMIN_TOKEN, call, closeBrowser, customer, openPage, screenshot, secret, signIn } from './helpers.js';

after(closeBrowser);

/** A webhook receiver on 127.0.0.1 answering 204: { url, posts, close() }. */
async function receiver() {
  const posts = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      posts.push({ signature: req.headers['x-signature'], body: Buffer.concat(chunks) });
      res.writeHead(204).end();
    });
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return { url: `http://127.0.0.1:${server.address().port}/hook`, posts, close: () => server.close() };
}

/** A port on 127.0.0.1 nothing listens on. */
async function closedPort() {
  const server = createServer();
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address();
  await new Promise((ok) => server.close(ok));
  return port;
}

/** Whether one `v1` of an X-Signature header is the HMAC of `t.body` under `key`. */
function signedWith(header, body, key) {
  const parts = header.split(',').map((p) => p.split('='));
  const t = parts.find(([k]) => k === 't')[1];
  const expected = createHmac('sha256', key).update(`${t}.`).update(body).digest('hex');
  return parts.some(([k, v]) => k === 'v1' && v === expected);
}

async function until(what, check, timeoutMs = 20000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const r = await check();
    if (r) return r;
    assert.ok(Date.now() < end, `timed out waiting for ${what}`);
    await new Promise((ok) => setTimeout(ok, 200));
  }
}

test('a customer sets its webhook URL, sees the signed POSTs and rotates the secret', async () => {
  const hook = await receiver();
  const me = await customer('hooks', 10);
  const page = await openPage();
  await signIn(page, me.key);
  await page.getByRole('link', { name: 'Callbacks' }).click();
  await page.getByTestId('webhook-state').filter({ hasText: 'Callbacks are off.' }).waitFor();
  await page.getByTestId('no-deliveries').waitFor();
  await page.getByTestId('no-parked').waitFor();

  // A private address outside CALLBACK_ALLOWED_HOSTS: the API's problem document, its field.
  const url = page.getByLabel('Webhook URL');
  await url.fill('http://10.1.2.3/hook');
  await page.getByRole('button', { name: 'Save the URL' }).click();
  await page.getByRole('alert').filter({ hasText: 'url' }).waitFor();
  assert.equal((await call('GET', '/callbacks/settings', me.key)).body.url, null);

  // The first URL is saved and creates the secret, shown once.
  await url.fill(hook.url);
  await page.getByRole('button', { name: 'Save the URL' }).click();
  await page.getByTestId('saved-url').filter({ hasText: hook.url }).waitFor();
  const first = secret(await page.getByTestId('new-secret').inputValue());
  assert.match(first, /^whsec_/);
  const stored = (await call('GET', '/callbacks/settings', me.key)).body;
  assert.equal(stored.url, hook.url);
  assert.equal(stored.secret, first);
  // After a reload the URL is still there, and the secret is not shown again.
  await page.reload();
  await page.getByTestId('saved-url').filter({ hasText: hook.url }).waitFor();
  assert.equal(await page.getByLabel('Webhook URL').inputValue(), hook.url);
  assert.equal(await page.getByTestId('new-secret').count(), 0);

  // An SMS: its status changes reach the receiver signed with that secret, and the log shows them.
  const sent = await call('POST', '/sms/send', me.key, { text: 'hooked', recipients: ['+989121234567'] });
  assert.equal(sent.status, 202, sent.text);
  await until('a signed POST', () => hook.posts.length > 0);
  assert.ok(signedWith(hook.posts[0].signature, hook.posts[0].body, first), hook.posts[0].signature);
  assert.equal(JSON.parse(hook.posts[0].body).events[0].sms_identifier, sent.body.sms_identifier);
  await until('a logged delivery', async () => {
    await page.getByRole('button', { name: 'Refresh' }).first().click();
    return (await page.getByTestId('delivery-row').count()) > 0;
  });
  await page.getByTestId('delivery-row').first().filter({ hasText: 'delivered' }).waitFor();

  // Rotation: a new secret, shown once with the grace note; the old one signs too for a while.
  await page.getByRole('button', { name: 'Rotate the signing secret…' }).click();
  await page.getByRole('button', { name: 'Yes, rotate it' }).click();
  await page.getByTestId('grace-note').waitFor();
  const second = secret(await page.getByTestId('new-secret').inputValue());
  assert.match(second, /^whsec_/);
  assert.notEqual(second, first);
  const rotated = (await call('GET', '/callbacks/settings', me.key)).body;
  assert.equal(rotated.secret, second);
  assert.ok(rotated.previous_secret_expires_at);
  await screenshot(page, 'callbacks');
  await page.done();

  // At 375 px the page does not scroll sideways (its tables scroll in their box).
  const phone = await openPage({ width: 375, height: 740 });
  await signIn(phone, me.key);
  await phone.getByRole('button', { name: 'Menu' }).click();
  await phone.getByRole('link', { name: 'Callbacks' }).click();
  await phone.getByTestId('delivery-row').first().waitFor();
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - innerWidth);
  assert.ok(overflow <= 0, `the callbacks page is ${overflow} px wider than the screen`);
  await phone.done();
  hook.close();
});

test("the admin opens a customer's parked callbacks from its page and replays them", async () => {
  const them = await customer('parked', 10);
  const put = await call('PUT', `/callbacks/settings?user_id=${them.id}`, ADMIN_TOKEN, { url: `http://127.0.0.1:${await closedPort()}/hook` });
  assert.equal(put.status, 200, put.text);
  secret(put.body.secret);
  const sent = await call('POST', '/sms/send', them.key, { text: 'nobody listens', recipients: ['+989121234567'] });
  assert.equal(sent.status, 202, sent.text);
  const parked = await until('parked events', async () => {
    const r = await call('GET', `/callbacks/parked?user_id=${them.id}`, ADMIN_TOKEN);
    return r.body.items.length > 0 && r.body.items;
  });

  const page = await openPage();
  await signIn(page, ADMIN_TOKEN);
  await page.goto(`${page.url().split('#')[0]}#/customers/${them.id}`);
  // The customer's page says that events are parked (GET /admin/customers/{id}).
  await page.getByTestId('customer-parked').filter({ hasText: 'wait for a replay' }).waitFor();
  await page.getByRole('link', { name: /parked events/ }).click();
  // Named, not numbered (GET /admin/customers/{id}).
  await page.getByRole('heading', { name: `Callbacks of ${them.name}` }).waitFor();
  await page.getByTestId('parked-row').filter({ hasText: parked[0].event_id }).waitFor();
  await page.getByTestId('delivery-row').filter({ hasText: 'unreachable' }).first().waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - innerWidth);
  assert.ok(overflow <= 0, `the parked callbacks page is ${overflow} px wider than the screen`);
  await screenshot(page, 'admin-callbacks');
  const shown = await page.getByTestId('parked-row').count();
  await page.getByRole('button', { name: 'Replay all parked events' }).click();
  await page.getByTestId('replayed').waitFor();
  const replayed = Number((await page.getByTestId('replayed').textContent()).split(' ')[0]);
  assert.ok(replayed >= shown && replayed >= 1, `${replayed} replayed, ${shown} shown`);
  // Replayed events are pending again: retried, and parked again once their new period ends.
  await page.done();

  // The customer's page, with its webhook, fits 375 px too.
  const phone = await openPage({ width: 375, height: 740 });
  await signIn(phone, ADMIN_TOKEN);
  await phone.goto(`${phone.url().split('#')[0]}#/customers/${them.id}`);
  await phone.getByTestId('customer-facts').filter({ hasText: '/hook' }).waitFor();
  const wide = await phone.evaluate(() => document.documentElement.scrollWidth - innerWidth);
  assert.ok(wide <= 0, `the customer page is ${wide} px wider than the screen`);
  await phone.done();
});
