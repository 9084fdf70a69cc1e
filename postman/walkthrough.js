// The hand-written "Walkthrough" folder of the collection: one customer's real flow, in order,
// with the assertions a generated request cannot make (captured ids, charges, idempotency,
// delivery). postman/build.js turns each entry into a Postman request: `pre` and `test` are
// functions whose bodies become the request's scripts; the helpers they call (json, problem,
// unique, poll, pollWait, UUID) are those of postman/helpers.js, copied into each script.
// Everything else is generated from the OpenAPI document. Requests chain collection
// variables, so the folder runs top to bottom.
'use strict';

const customer = '{{apiKey}}';
const items = [
  {
    name: 'GET /healthz -> 200 ok',
    path: '/healthz',
    auth: 'none',
    test() {
      pm.test('ok', () => pm.expect(json(200).status).to.eql('ok'));
    },
  },
  {
    name: 'GET /readyz -> 200 database and broker up',
    path: '/readyz',
    auth: 'none',
    test() {
      const b = json(200);
      pm.test('ready', () => pm.expect(b).to.include({ status: 'ready', database: 'up', broker: 'up' }));
    },
  },
  {
    name: 'POST /admin/customers -> 201, capture customer_id and api_key',
    method: 'POST',
    path: '/admin/customers',
    body: { name: '{{customerName}}', balance: 0 },
    pre() {
      pm.collectionVariables.set('customerName', unique('postman-acme'));
    },
    test() {
      const b = json(201);
      pm.test('a new customer with a key', () => {
        pm.expect(b.customer_id).to.be.a('number').and.above(0);
        pm.expect(b.name).to.eql(pm.collectionVariables.get('customerName'));
        pm.expect(b.api_key).to.be.a('string').and.have.length.above(16);
        pm.expect(b.balance).to.eql(0);
      });
      pm.collectionVariables.set('customerId', b.customer_id);
      pm.collectionVariables.set('apiKey', b.api_key);
    },
  },
  {
    name: 'POST /admin/customers (a second customer, balance 1) -> 201',
    method: 'POST',
    path: '/admin/customers',
    body: { name: '{{poorName}}', balance: 1 },
    pre() {
      pm.collectionVariables.set('poorName', unique('postman-poor'));
    },
    test() {
      const b = json(201);
      pm.test('balance 1', () => pm.expect(b.balance).to.eql(1));
      pm.collectionVariables.set('poorCustomerId', b.customer_id);
      pm.collectionVariables.set('poorApiKey', b.api_key);
    },
  },
  {
    name: 'POST /balance/add {customer_id} -> 200 credited',
    method: 'POST',
    path: '/balance/add',
    headers: { 'Idempotency-Key': '{{topUpKey}}' },
    body: { user_id: '{{customerId}}', balance: 100, description: 'Postman top-up' },
    pre() {
      pm.collectionVariables.set('topUpKey', unique('top-up'));
    },
    test() {
      const b = json(200);
      pm.test('credited 100', () => {
        pm.expect(b.user_id).to.eql(Number(pm.collectionVariables.get('customerId')));
        pm.expect(b.balance).to.eql(100);
        pm.expect(b.transaction_id).to.be.a('string').and.not.empty;
      });
    },
  },
  {
    name: 'GET /balance -> 100, the top-up first in the ledger',
    path: '/balance',
    auth: customer,
    test() {
      const b = json(200);
      pm.test('balance and ledger', () => {
        pm.expect(b.balance).to.eql(100);
        pm.expect(b.transactions[0]).to.include({ amount: 100, description: 'Postman top-up' });
      });
    },
  },
  {
    name: 'POST /sms/send (two recipients) -> 202 accepted and charged',
    method: 'POST',
    path: '/sms/send',
    auth: customer,
    headers: { 'Idempotency-Key': '{{sendKey}}' },
    body: { text: 'Hello from Postman', recipients: ['+989121234567', '09127654321'] },
    pre() {
      pm.collectionVariables.set('sendKey', unique('send'));
    },
    test() {
      const b = json(202);
      const price = Number(pm.variables.get('priceNormal'));
      pm.test('not a replay', () => pm.expect(pm.response.headers.has('Idempotent-Replayed')).to.be.false);
      pm.test('2 recipients x 1 GSM-7 segment, normal', () => {
        pm.expect(b.sms_identifier).to.match(UUID);
        pm.expect(b).to.include({ status: 'processing', recipients: 2, segments: 1, encoding: 'GSM-7', type: 'normal' });
      });
      pm.test('cost = recipients x segments x price, taken from the balance', () => {
        pm.expect(b.cost).to.eql(2 * price);
        pm.expect(b.balance).to.eql(100 - b.cost);
      });
      pm.collectionVariables.set('smsId', b.sms_identifier);
      pm.collectionVariables.set('balanceAfterSend', b.balance);
    },
  },
  {
    name: 'POST /sms/send (same Idempotency-Key and body) -> 202 the same answer',
    method: 'POST',
    path: '/sms/send',
    auth: customer,
    headers: { 'Idempotency-Key': '{{sendKey}}' },
    body: { text: 'Hello from Postman', recipients: ['+989121234567', '09127654321'] },
    test() {
      const b = json(202);
      pm.test('Idempotent-Replayed: true', () => pm.expect(pm.response.headers.get('Idempotent-Replayed')).to.eql('true'));
      pm.test('the first answer', () => {
        pm.expect(b.sms_identifier).to.eql(pm.collectionVariables.get('smsId'));
        pm.expect(b.balance).to.eql(Number(pm.collectionVariables.get('balanceAfterSend')));
      });
    },
  },
  {
    name: 'GET /balance (after the retry) -> charged once, balance = sum of the ledger',
    path: '/balance',
    auth: customer,
    test() {
      const b = json(200);
      pm.test('no second charge', () => {
        pm.expect(b.balance).to.eql(Number(pm.collectionVariables.get('balanceAfterSend')));
        pm.expect(b.transactions.filter((t) => t.sms_identifier === pm.collectionVariables.get('smsId'))).to.have.length(1);
      });
      pm.test('the balance is the sum of the ledger', () =>
        pm.expect(b.transactions.reduce((sum, t) => sum + t.amount, 0)).to.eql(b.balance));
    },
  },
  {
    name: 'POST /sms/send (same Idempotency-Key, other body) -> 409',
    method: 'POST',
    path: '/sms/send',
    auth: customer,
    headers: { 'Idempotency-Key': '{{sendKey}}' },
    body: { text: 'Another text', recipients: ['+989121234567'] },
    test() {
      problem(409, 'conflict');
    },
  },
  {
    name: 'GET /sms/{{smsId}} (repeated until DELIVERED)',
    path: '/sms/{{smsId}}',
    auth: customer,
    pre() {
      pollWait();
    },
    test() {
      const b = poll((x) => (x.messages || []).length > 0 && x.messages.every((m) => m.status === 'DELIVERED'));
      if (b) {
        pm.test('the request as sent, with each recipient\'s timeline', () => {
          pm.expect(b).to.include({ sms_identifier: pm.collectionVariables.get('smsId'), type: 'normal', text: 'Hello from Postman' });
          pm.expect(b.counts).to.eql({ DELIVERED: 2 });
          pm.expect(b.messages.map((m) => m.recipient).sort()).to.eql(['+989121234567', '+989127654321']);
          for (const m of b.messages) {
            pm.expect(m.events.map((e) => e.status)).to.include.members(['PENDING', 'SENT', 'DELIVERED']);
            pm.expect(m.provider).to.be.a('string').and.not.empty;
          }
        });
      }
    },
  },
  {
    name: 'GET /sms/{{smsId}}?limit=1 -> one recipient, the counts of both, a cursor',
    path: '/sms/{{smsId}}?limit=1',
    auth: customer,
    test() {
      const b = json(200);
      pm.test('a page of one recipient; counts over the whole request', () => {
        pm.expect(b.messages).to.have.length(1);
        pm.expect(b.counts).to.eql({ DELIVERED: 2 });
        pm.expect(b.messages[0].events_truncated).to.eql(false);
        pm.expect(b.next_cursor).to.be.a('string').and.not.empty;
      });
      pm.collectionVariables.set('detailCursor', b.next_cursor);
      pm.collectionVariables.set('detailFirstRecipient', b.messages[0].recipient);
    },
  },
  {
    name: 'GET /sms/{{smsId}}?limit=1&cursor -> the other recipient, the last page',
    path: '/sms/{{smsId}}?limit=1&cursor={{detailCursor}}',
    auth: customer,
    test() {
      const b = json(200);
      pm.test('the other recipient, no further page', () => {
        pm.expect(b.messages).to.have.length(1);
        pm.expect(b.messages[0].recipient).to.not.eql(pm.collectionVariables.get('detailFirstRecipient'));
        pm.expect(b.counts).to.eql({ DELIVERED: 2 });
        pm.expect(b.next_cursor).to.eql(null);
      });
    },
  },
  {
    name: 'GET /sms/{{smsId}}/recipients/{{detailFirstRecipient}}/events?limit=2 -> PENDING first, a cursor',
    path: '/sms/{{smsId}}/recipients/{{detailFirstRecipient}}/events?limit=2',
    auth: customer,
    test() {
      const b = json(200);
      pm.test('the start of the recipient\'s timeline', () => {
        pm.expect(b).to.include({ sms_identifier: pm.collectionVariables.get('smsId'), recipient: pm.collectionVariables.get('detailFirstRecipient') });
        pm.expect(b.events).to.have.length(2);
        pm.expect(b.events[0]).to.include({ status: 'PENDING', detail: 'accepted' });
        pm.expect(b.next_cursor).to.be.a('string').and.not.empty;
      });
      pm.collectionVariables.set('eventsCursor', b.next_cursor);
    },
  },
  {
    name: 'GET /sms/{{smsId}}/recipients/{{detailFirstRecipient}}/events?cursor -> the rest, ending DELIVERED',
    path: '/sms/{{smsId}}/recipients/{{detailFirstRecipient}}/events?limit=100&cursor={{eventsCursor}}',
    auth: customer,
    test() {
      const b = json(200);
      pm.test('the rest of the timeline, no further page', () => {
        pm.expect(b.events.map((e) => e.status)).to.include('DELIVERED');
        pm.expect(b.events.map((e) => e.status)).to.not.include('PENDING');
        pm.expect(b.next_cursor).to.eql(null);
      });
    },
  },
  {
    name: 'GET /sms/history?sms_identifier&status=delivered&type=NORMAL -> filtered rows',
    path: '/sms/history?sms_identifier={{smsId}}&status=delivered&type=NORMAL&limit=1',
    auth: customer,
    test() {
      const b = json(200);
      pm.test('one row per page, filters case-insensitive, a cursor to the next', () => {
        pm.expect(b.items).to.have.length(1);
        pm.expect(b.items[0]).to.include({ sms_identifier: pm.collectionVariables.get('smsId'), status: 'DELIVERED', type: 'normal' });
        pm.expect(b.next_cursor).to.be.a('string').and.not.empty;
      });
      pm.collectionVariables.set('historyCursor', b.next_cursor);
      pm.collectionVariables.set('historyFirstRecipient', b.items[0].recipient);
    },
  },
  {
    name: 'GET /sms/history?...&cursor -> the next page: the other recipient',
    path: '/sms/history?sms_identifier={{smsId}}&status=delivered&type=NORMAL&limit=1&cursor={{historyCursor}}',
    auth: customer,
    test() {
      const b = json(200);
      pm.test('the other row of the request', () => {
        pm.expect(b.items).to.have.length(1);
        pm.expect(b.items[0].sms_identifier).to.eql(pm.collectionVariables.get('smsId'));
        pm.expect(b.items[0].recipient).to.not.eql(pm.collectionVariables.get('historyFirstRecipient'));
      });
    },
  },
  {
    name: 'GET /sms/history.csv?sms_identifier -> text/csv, a header and both recipients',
    path: '/sms/history.csv?sms_identifier={{smsId}}',
    auth: customer,
    test() {
      pm.test('status is 200', () => pm.response.to.have.status(200));
      pm.test('CSV', () => pm.expect(pm.response.headers.get('Content-Type')).to.match(/^text\/csv/));
      const lines = pm.response.text().split('\r\n').filter((l) => l.length > 0);
      pm.test('a header row and one row per recipient, DELIVERED', () => {
        pm.expect(lines[0]).to.eql('sms_identifier,recipient,status,type,provider,segments,from,reference,created_at,updated_at,send_at');
        pm.expect(lines).to.have.length(3);
        lines.slice(1).forEach((l) => pm.expect(l.split(',')[2]).to.eql('DELIVERED'));
      });
    },
  },
  {
    name: 'GET /reports/daily (yesterday to tomorrow) -> the day\'s counts of the customer',
    path: '/reports/daily?from={{reportFrom}}&to={{reportTo}}',
    auth: customer,
    pre() {
      const day = (offset) => new Date(Date.now() + offset * 86400000).toISOString().slice(0, 10);
      pm.collectionVariables.set('reportFrom', day(-1));
      pm.collectionVariables.set('reportTo', day(1));
    },
    test() {
      const b = json(200);
      const price = Number(pm.variables.get('priceNormal'));
      pm.test('the customer\'s own line: one request, its two recipients delivered', () => {
        pm.expect(b.customer_id).to.eql(Number(pm.collectionVariables.get('customerId')));
        pm.expect(b.lines).to.have.length(1);
        pm.expect(b.lines[0]).to.include({ type: 'normal', requests: 1, recipients: 2, segments: 2, delivered: 2, in_progress: 0 });
        pm.expect(b.lines[0].cost).to.eql(2 * price);
        pm.expect(b.total.requests).to.eql(1);
      });
    },
  },
  {
    name: 'GET /balance (unknown key) -> 401',
    path: '/balance',
    auth: 'sk_unknown_{{$guid}}',
    test() {
      problem(401, 'unauthorized');
    },
  },
  {
    name: 'POST /sms/send (customer_id of another customer) -> 403',
    method: 'POST',
    path: '/sms/send',
    auth: customer,
    body: { text: 'Not mine', recipients: ['+989121234567'], customer_id: '{{poorCustomerId}}' },
    test() {
      problem(403, 'forbidden');
    },
  },
  {
    name: 'POST /sms/send (balance 1, express costs 2) -> 402, nothing charged',
    method: 'POST',
    path: '/sms/send',
    auth: '{{poorApiKey}}',
    body: { text: 'Too expensive', recipients: ['+989121234567'], type: 'express' },
    test() {
      problem(402, 'insufficient-balance');
    },
  },
  {
    name: 'GET /balance (second customer after the 402) -> still 1',
    path: '/balance',
    auth: '{{poorApiKey}}',
    test() {
      pm.test('unchanged', () => pm.expect(json(200).balance).to.eql(1));
    },
  },
  {
    name: 'POST /admin/customers/{{customerId}}/senders (ACME, default) -> 201',
    method: 'POST',
    path: '/admin/customers/{{customerId}}/senders',
    body: { sender: 'ACME', default: true },
    test() {
      const b = json(201);
      pm.test('ACME is the default', () => pm.expect(b.senders[0]).to.include({ sender: 'ACME', default: true }));
    },
  },
  {
    name: 'GET /senders -> the customer\'s own sender ids',
    path: '/senders',
    auth: customer,
    test() {
      const b = json(200);
      pm.test('ACME, the default', () => pm.expect(b.senders.map((s) => s.sender)).to.eql(['ACME']));
    },
  },
  {
    name: 'POST /sms/send (from ACME, with a reference) -> 202 from and reference answered',
    method: 'POST',
    path: '/sms/send',
    auth: customer,
    body: { text: 'From ACME', recipients: ['+989121234567'], from: 'ACME', reference: 'postman-order-1' },
    test() {
      const b = json(202);
      pm.test('from and reference', () => pm.expect(b).to.include({ from: 'ACME', reference: 'postman-order-1' }));
    },
  },
  {
    name: 'GET /sms/history?reference=postman-order-1 -> that request\'s row',
    path: '/sms/history?reference=postman-order-1',
    auth: customer,
    test() {
      const b = json(200);
      pm.test('one row, from ACME', () => {
        pm.expect(b.items).to.have.length(1);
        pm.expect(b.items[0]).to.include({ from: 'ACME', reference: 'postman-order-1' });
      });
    },
  },
  {
    name: 'POST /sms/send (personalized messages) -> 202, each charged its own segments',
    method: 'POST',
    path: '/sms/send',
    auth: customer,
    body: {
      messages: [
        { to: '+989121234567', text: 'Hello Sara, order 4821 has shipped', reference: 'order-4821' },
        { to: '+989127654321', text: 'سلام علی، سفارش ۴۸۲۲ ارسال شد', reference: 'order-4822' },
      ],
    },
    test() {
      const b = json(202);
      const price = Number(pm.variables.get('priceNormal'));
      pm.test('two messages, each with its segments and cost', () => {
        pm.expect(b.recipients).to.eql(2);
        pm.expect(b.messages.map((m) => m.reference)).to.eql(['order-4821', 'order-4822']);
        pm.expect(b.messages[1].encoding).to.eql('UCS-2');
        pm.expect(b.cost).to.eql(b.messages.reduce((sum, m) => sum + m.cost, 0));
        pm.expect(b.cost).to.eql(b.segments * price);
      });
    },
  },
  {
    name: 'POST /sms/send (from a sender not the customer\'s) -> 403 unknown-sender',
    method: 'POST',
    path: '/sms/send',
    auth: customer,
    body: { text: 'Not my name', recipients: ['+989121234567'], from: 'GLOBEX' },
    test() {
      problem(403, 'unknown-sender');
    },
  },
  {
    name: 'DELETE /admin/customers/{{customerId}}/senders/ACME -> 200, none left',
    method: 'DELETE',
    path: '/admin/customers/{{customerId}}/senders/ACME',
    test() {
      pm.test('no senders', () => pm.expect(json(200).senders).to.eql([]));
    },
  },
  {
    name: 'POST /sms/send (empty text, bad number, bad type) -> 400 problem+json',
    method: 'POST',
    path: '/sms/send',
    auth: customer,
    body: { text: '', recipients: ['12ab'], type: 'urgent' },
    test() {
      const p = problem(400, 'validation-error');
      pm.test('errors names each field', () => pm.expect(p.errors).to.include.keys('text', 'recipients[0]', 'type'));
    },
  },
  {
    name: 'POST /sms/send (via {{dlrOperator}}, which does not report by itself) -> 202',
    method: 'POST',
    path: '/sms/send',
    auth: customer,
    body: { text: 'Via a chosen operator', recipients: ['+989121234569'], operators: ['{{dlrOperator}}'] },
    test() {
      pm.collectionVariables.set('dlrSmsId', json(202).sms_identifier);
    },
  },
  {
    name: 'GET /sms/{{dlrSmsId}} (repeated until SENT by {{dlrOperator}})',
    path: '/sms/{{dlrSmsId}}',
    auth: customer,
    pre() {
      pollWait();
    },
    test() {
      const b = poll((x) => (x.messages || []).some((m) => m.status === 'SENT'));
      if (b) {
        const m = b.messages[0];
        pm.test('sent by the chosen operator', () => {
          pm.expect(m.provider).to.eql(pm.variables.get('dlrOperator'));
          pm.expect(m.provider_message_id).to.be.a('string').and.not.empty;
        });
        pm.collectionVariables.set('providerMessageId', m.provider_message_id);
      }
    },
  },
  {
    name: 'POST /dlr/{{dlrOperator}} (DELIVRD, with the operator\'s key) -> 200 applied',
    method: 'POST',
    path: '/dlr/{{dlrOperator}}',
    auth: '{{dlrOperatorKey}}',
    body: { message_id: '{{providerMessageId}}', status: 'DELIVRD' },
    pre() {
      if (!pm.variables.get('dlrOperatorKey')) pm.execution.skipRequest(); // needs the operator's key
    },
    test() {
      pm.test('applied', () => pm.expect(json(200)).to.eql({ result: 'applied' }));
    },
  },
  {
    name: 'GET /sms/{{dlrSmsId}} (after the report) -> DELIVERED',
    path: '/sms/{{dlrSmsId}}',
    auth: customer,
    pre() {
      if (!pm.variables.get('dlrOperatorKey')) pm.execution.skipRequest();
    },
    test() {
      pm.test('DELIVERED', () => pm.expect(json(200).counts).to.eql({ DELIVERED: 1 }));
    },
  },
  {
    name: 'GET /admin/operators -> 200 circuits and counters',
    path: '/admin/operators',
    test() {
      const b = json(200);
      pm.test('dispatch running, each operator with its circuit and counters', () => {
        pm.expect(b.dispatch_paused).to.eql(false);
        pm.expect(b.operators.map((o) => o.name)).to.include(pm.variables.get('dlrOperator'));
        for (const o of b.operators) {
          pm.expect(o.circuit).to.be.oneOf(['closed', 'open', 'half_open']);
          for (const k of ['calls', 'sent', 'transient_failures', 'permanent_failures', 'rejected_by_circuit']) {
            pm.expect(o[k], `${o.name}.${k}`).to.be.a('number').and.at.least(0);
          }
        }
      });
    },
  },
  {
    name: 'POST /admin/dispatch/pause -> 200 paused',
    method: 'POST',
    path: '/admin/dispatch/pause',
    test() {
      pm.test('paused', () => { const b = json(200); pm.expect(b.paused).to.eql(true); pm.expect(b.in_flight).to.be.a('number'); });
    },
  },
  {
    name: 'POST /sms/send (while paused) -> 202',
    method: 'POST',
    path: '/sms/send',
    auth: customer,
    body: { text: 'Sent while paused', recipients: ['+989121234570'] },
    pre() {
      setTimeout(() => {}, 750); // workers read the switch every 250 ms
    },
    test() {
      pm.collectionVariables.set('pausedSmsId', json(202).sms_identifier);
    },
  },
  {
    name: 'GET /sms/{{pausedSmsId}} (paused, 1.5 s later) -> still PENDING',
    path: '/sms/{{pausedSmsId}}',
    auth: customer,
    pre() {
      setTimeout(() => {}, 1500); // long enough for a running gateway to deliver it
    },
    test() {
      pm.test('nothing sent while paused', () => pm.expect(json(200).counts).to.eql({ PENDING: 1 }));
    },
  },
  {
    name: 'POST /admin/dispatch/resume -> 200 resumed',
    method: 'POST',
    path: '/admin/dispatch/resume',
    test() {
      pm.test('resumed', () => { const b = json(200); pm.expect(b.paused).to.eql(false); pm.expect(b.in_flight).to.be.a('number'); });
    },
  },
  {
    name: 'GET /sms/{{pausedSmsId}} (repeated until DELIVERED after resuming)',
    path: '/sms/{{pausedSmsId}}',
    auth: customer,
    pre() {
      pollWait();
    },
    test() {
      poll((x) => (x.messages || []).length > 0 && x.messages.every((m) => m.status === 'DELIVERED'));
    },
  },
  {
    name: 'POST /sms/send with send_at (an hour ahead) -> 202 scheduled, charged now',
    method: 'POST',
    path: '/sms/send',
    auth: customer,
    body: { text: 'Scheduled', recipients: ['+989121234571'], send_at: '{{sendAt}}' },
    pre() {
      pm.collectionVariables.set('sendAt', new Date(Date.now() + 3600000).toISOString());
    },
    test() {
      const b = json(202);
      pm.test('scheduled for send_at and charged', () => {
        pm.expect(Date.parse(b.send_at)).to.eql(Date.parse(pm.collectionVariables.get('sendAt')));
        pm.expect(b.cost).to.eql(Number(pm.variables.get('priceNormal')));
      });
      pm.collectionVariables.set('scheduledSmsId', b.sms_identifier);
    },
  },
  {
    name: 'GET /sms/{{scheduledSmsId}} -> PENDING until send_at',
    path: '/sms/{{scheduledSmsId}}',
    auth: customer,
    test() {
      const b = json(200);
      pm.test('held, with its send_at', () => {
        pm.expect(b.counts).to.eql({ PENDING: 1 });
        pm.expect(Date.parse(b.send_at)).to.eql(Date.parse(pm.collectionVariables.get('sendAt')));
      });
    },
  },
  {
    name: 'POST /sms/{{scheduledSmsId}}/cancel -> 200, cancelled and refunded',
    method: 'POST',
    path: '/sms/{{scheduledSmsId}}/cancel',
    auth: customer,
    test() {
      const b = json(200);
      pm.test('its recipient cancelled, its cost refunded', () => {
        pm.expect(b).to.eql({
          sms_identifier: pm.collectionVariables.get('scheduledSmsId'),
          cancelled: 1,
          refunded: Number(pm.variables.get('priceNormal')),
          not_cancelled: 0,
        });
      });
    },
  },
  {
    name: 'POST /sms/{{scheduledSmsId}}/cancel again -> 200, nothing left to cancel',
    method: 'POST',
    path: '/sms/{{scheduledSmsId}}/cancel',
    auth: customer,
    test() {
      const b = json(200);
      pm.test('nothing cancelled or refunded twice', () => {
        pm.expect(b).to.include({ cancelled: 0, refunded: 0, not_cancelled: 1 });
      });
    },
  },
  {
    name: 'GET /metrics -> 200 Prometheus text',
    path: '/metrics',
    auth: 'none',
    test() {
      pm.test('status is 200', () => pm.response.to.have.status(200));
      pm.test('text exposition format with smsgw_ metrics', () => {
        pm.expect(pm.response.headers.get('Content-Type')).to.match(/^text\/plain/);
        pm.expect(pm.response.text()).to.match(/^# TYPE smsgw_\w+ (counter|gauge|histogram)$/m);
      });
    },
  },
];

module.exports = { items };
