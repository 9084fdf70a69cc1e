// Generates postman/sms-gateway.postman_collection.json: edit this file, then run
// `node postman/generate.js` and commit both (CI runs the JSON; this is its source).
'use strict';
const fs = require('fs');
const crypto = require('crypto');

const OUT = process.argv[2] || require('path').join(__dirname, 'sms-gateway.postman_collection.json');

// Stable ids so that regenerating does not churn the file.
const idOf = (s) => {
  const h = crypto.createHash('sha1').update(s).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
};
const lines = (s) => s.replace(/^\n/, '').replace(/\n\s*$/, '').split('\n');
const dedent = (s) => {
  const ls = lines(s);
  const ind = Math.min(...ls.filter((l) => l.trim()).map((l) => l.match(/^ */)[0].length));
  return ls.map((l) => l.slice(ind));
};

// ---- assertion snippets ------------------------------------------------------------------
const S = (c) => `pm.test("status is ${c}", () => pm.response.to.have.status(${c}));`;
const J = () =>
  `pm.test("content-type is application/json", () => pm.expect(pm.response.headers.get("Content-Type")).to.match(/^application\\/json/));`;
const P = (c, type) => {
  const out = [
    S(c),
    `pm.test("content-type is application/problem+json", () => pm.expect(pm.response.headers.get("Content-Type")).to.match(/^application\\/problem\\+json/));`,
    `const p = pm.response.json();`,
    `pm.test("problem type is /problems/${type}", () => {`,
    `    pm.expect(p.type).to.eql("/problems/${type}");`,
    `    pm.expect(p.status).to.eql(${c});`,
    `    pm.expect(p.title).to.be.a("string").and.not.empty;`,
    `    pm.expect(p.detail).to.be.a("string").and.not.empty;`,
    `});`,
  ];
  if (c === 405) {
    out.push(`pm.test("Allow lists the accepted methods", () => pm.expect(pm.response.headers.get("Allow")).to.be.a("string").and.not.empty);`);
  }
  if (c === 401) {
    out.push(
      `pm.test("WWW-Authenticate: Bearer", () => pm.expect(pm.response.headers.get("WWW-Authenticate")).to.match(/^Bearer/));`
    );
  }
  return out.join('\n');
};
// A 400 validation problem naming these fields in `errors`.
const V = (...fields) =>
  [
    P(400, 'validation-error'),
    `pm.test("errors names ${fields.join(', ')}", () => {`,
    `    pm.expect(p.errors).to.be.an("object");`,
    ...fields.map((f) => `    pm.expect(p.errors[${JSON.stringify(f)}], ${JSON.stringify(f)}).to.be.a("string").and.not.empty;`),
    `});`,
  ].join('\n');

// Sleeps in a pre-request script (the sandbox waits for pending timers).
const SLEEP = (ms) => `setTimeout(() => {}, ${ms});`;

// Polls the current request (pm.execution.setNextRequest) until `done` holds for the parsed
// body `b`, at most {{pollAttempts}} times, {{pollIntervalMs}} apart; then runs `final`.
const POLL_PRE = dedent(`
  // Polling: wait between attempts (the first attempt goes at once).
  if (Number(pm.collectionVariables.get("pollN") || 0) > 0) {
      setTimeout(() => {}, Number(pm.variables.get("pollIntervalMs") || 250));
  }
`).join('\n');
const POLL = (what, done, final) =>
  dedent(`
  const b = pm.response.code === 200 ? pm.response.json() : {};
  const states = (b.messages || []).map((m) => m.status);
  const done = states.length > 0 && (${done});
  const n = Number(pm.collectionVariables.get("pollN") || 0) + 1;
  const max = Number(pm.variables.get("pollAttempts") || 60);
  if (!done && pm.response.code === 200 && n < max) {
      // Delivery is asynchronous: ask again (this same request) after pollIntervalMs.
      pm.collectionVariables.set("pollN", n);
      pm.execution.setNextRequest(pm.info.requestName);
  } else {
      pm.collectionVariables.unset("pollN");
      console.log(pm.info.requestName + ": " + JSON.stringify(b.counts) + " after " + n + " poll(s)");
      ${S(200)}
      ${J()}
      pm.test("${what} within " + max + " polls (took " + n + ")", () => pm.expect(done, "counts " + JSON.stringify(b.counts)).to.be.true);
  `)
    .concat(final.split('\n').map((l) => '    ' + l))
    .concat(['}'])
    .join('\n');

// ---- request builder ---------------------------------------------------------------------
const AUTH = {
  admin: null, // inherits the collection's Bearer {{adminToken}}
  customer: '{{apiKey}}',
  other: '{{otherApiKey}}',
  poor: '{{poorApiKey}}',
};
function auth(a) {
  if (a === undefined || a === 'admin') return undefined;
  if (a === 'none') return { type: 'noauth' };
  const token = AUTH[a] !== undefined ? AUTH[a] : a;
  return { type: 'bearer', bearer: [{ key: 'token', value: token, type: 'string' }] };
}

function url(pathAndQuery) {
  const [path, query] = pathAndQuery.split('?');
  const u = {
    raw: '{{baseUrl}}' + pathAndQuery,
    host: ['{{baseUrl}}'],
    path: path.split('/').filter(Boolean),
  };
  if (path.endsWith('/')) u.path.push('');
  if (query) {
    u.query = query.split('&').map((kv) => {
      const i = kv.indexOf('=');
      return i < 0 ? { key: kv, value: null } : { key: kv.slice(0, i), value: kv.slice(i + 1) };
    });
  }
  return u;
}

// Variables holding numbers, written unquoted in JSON bodies.
const NUMERIC = new Set(['{{customerId}}', '{{otherCustomerId}}', '{{poorCustomerId}}']);
const names = new Set();
function req(name, opts) {
  if (names.has(name)) throw new Error('duplicate request name: ' + name);
  names.add(name);
  const { method = 'GET', path, headers = {}, body, raw, contentType, pre, test, description } = opts;
  const header = [];
  let bodyObj;
  if (body !== undefined || raw !== undefined) {
    const ct = contentType || 'application/json';
    header.push({ key: 'Content-Type', value: ct });
    bodyObj = {
      mode: 'raw',
      raw: raw !== undefined ? raw : JSON.stringify(body, null, 2).replace(/"(\{\{\w+\}\})"/g, (m, v) => (NUMERIC.has(v) ? v : m)),
      options: { raw: { language: ct.startsWith('application/json') ? 'json' : 'text' } },
    };
  }
  for (const [k, v] of Object.entries(headers)) header.push({ key: k, value: v });
  const event = [];
  if (pre) event.push({ listen: 'prerequest', script: { id: idOf(name + ':pre'), type: 'text/javascript', exec: lines(pre) } });
  if (!test) throw new Error('no tests: ' + name);
  event.push({ listen: 'test', script: { id: idOf(name + ':test'), type: 'text/javascript', exec: lines(test) } });
  const request = { method, header };
  const a = auth(opts.auth);
  if (a) request.auth = a;
  if (bodyObj) request.body = bodyObj;
  request.url = url(path);
  if (description) request.description = description;
  return { id: idOf(name), name, event, request, response: [] };
}

const folder = (name, description, item) => ({ id: idOf('folder:' + name), name, description, item });

// ---- shared snippets ---------------------------------------------------------------------
const UNIQUE = (v, prefix) =>
  `pm.collectionVariables.set("${v}", "${prefix}-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 8));`;
const RFC3339 = `/^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?(Z|[+-]\\d{2}:\\d{2})$/`;
const UUID = `/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/`;
const REPLAYED = `pm.test("Idempotent-Replayed: true", () => pm.expect(pm.response.headers.get("Idempotent-Replayed")).to.eql("true"));`;
const NOT_REPLAYED = `pm.test("not a replay", () => pm.expect(pm.response.headers.has("Idempotent-Replayed")).to.be.false);`;
const UNKNOWN_TOKEN = 'sk_unknown_{{$guid}}';
const HUGE_ID = '9000000000000000000';

// Checks of a 202 send answer; charges `expectedBalance` and returns nothing.
const SENT = ({ recipients, segments, encoding, type, price, save }) =>
  [
    S(202),
    J(),
    NOT_REPLAYED,
    `const b = pm.response.json();`,
    `const price = Number(pm.variables.get("${price}"));`,
    `const before = Number(pm.collectionVariables.get("expectedBalance"));`,
    `pm.test("accepted: ${recipients} recipient(s) x ${segments} segment(s) ${encoding} ${type}", () => {`,
    `    pm.expect(b.sms_identifier).to.match(${UUID});`,
    `    pm.expect(b.status).to.eql("processing");`,
    `    pm.expect(b.recipients).to.eql(${recipients});`,
    `    pm.expect(b.segments).to.eql(${segments});`,
    `    pm.expect(b.encoding).to.eql("${encoding}");`,
    `    pm.expect(b.type).to.eql("${type}");`,
    `});`,
    `pm.test("cost = recipients x segments x price, charged once", () => {`,
    `    pm.expect(b.cost).to.eql(${recipients} * ${segments} * price);`,
    `    pm.expect(b.balance).to.eql(before - b.cost);`,
    `});`,
    `pm.collectionVariables.set("expectedBalance", b.balance);`,
    save ? `pm.collectionVariables.set("${save}", b.sms_identifier);` : '',
  ]
    .filter(Boolean)
    .join('\n');

const BOUNDARY_NOTE = '';
void BOUNDARY_NOTE;

const SMS_FIELDS = dedent(`
  pm.test("detail has the contract's fields", () => {
      pm.expect(b.sms_identifier).to.eql(id);
      pm.expect(b).to.include.keys("type", "text", "encoding", "segments", "recipients", "cost", "counts", "messages");
      for (const m of b.messages) {
          pm.expect(m).to.include.keys("recipient", "status", "provider", "provider_message_id", "events");
          pm.expect(m.events[0].status).to.eql("PENDING");
          for (const e of m.events) pm.expect(e.at).to.match(${RFC3339});
      }
  });
`).join('\n');

// ---- folders -----------------------------------------------------------------------------
const operations = folder(
  'Operations',
  'Liveness, readiness, the OpenAPI document and Swagger UI; unknown routes and methods.',
  [
    req('GET /healthz -> 200 ok', {
      path: '/healthz',
      auth: 'none',
      pre: `// One id per run, for unique names and keys.\n${UNIQUE('runId', 'run')}`,
      test: [S(200), J(), `pm.test("status ok", () => pm.expect(pm.response.json().status).to.eql("ok"));`].join('\n'),
    }),
    req('GET /readyz -> 200 ready', {
      path: '/readyz',
      auth: 'none',
      test: [
        S(200),
        J(),
        `const b = pm.response.json();`,
        `pm.test("database and broker are up", () => {`,
        `    pm.expect(b.status).to.eql("ready");`,
        `    pm.expect(b.database).to.eql("up");`,
        `    pm.expect(b.broker).to.eql("up");`,
        `});`,
      ].join('\n'),
    }),
    req('GET /api-docs/openapi.json -> 200 every route documented', {
      path: '/api-docs/openapi.json',
      auth: 'none',
      test: [
        S(200),
        J(),
        `const doc = pm.response.json();`,
        `pm.test("OpenAPI 3 document", () => {`,
        `    pm.expect(doc.openapi).to.match(/^3\\./);`,
        `    pm.expect(doc.info.title).to.be.a("string");`,
        `});`,
        `pm.test("documents every route of the router", () => {`,
        `    const routes = {`,
        `        "/admin/customers": ["post"],`,
        `        "/admin/customers/{customer_id}/api-key": ["post"],`,
        `        "/admin/dispatch/pause": ["post"],`,
        `        "/admin/dispatch/resume": ["post"],`,
        `        "/admin/operators": ["get"],`,
        `        "/balance/add": ["post"],`,
        `        "/balance": ["get"],`,
        `        "/sms/send": ["post"],`,
        `        "/sms/history": ["get"],`,
        `        "/sms/{sms_identifier}": ["get"],`,
        `        "/dlr/{operator}": ["post"],`,
        `        "/healthz": ["get"],`,
        `        "/readyz": ["get"],`,
        `    };`,
        `    for (const [path, methods] of Object.entries(routes)) {`,
        `        pm.expect(doc.paths, path).to.have.property(path);`,
        `        for (const m of methods) pm.expect(doc.paths[path], m + " " + path).to.have.property(m);`,
        `    }`,
        `});`,
        `pm.test("problem schema and security schemes", () => {`,
        `    pm.expect(doc.components.schemas).to.have.property("Problem");`,
        `    pm.expect(doc.components.securitySchemes).to.include.keys("api_key", "admin_token");`,
        `});`,
      ].join('\n'),
    }),
    req('GET /swagger-ui/ -> 200 HTML', {
      path: '/swagger-ui/',
      auth: 'none',
      test: [
        S(200),
        `pm.test("content-type is text/html", () => pm.expect(pm.response.headers.get("Content-Type")).to.match(/^text\\/html/));`,
        `pm.test("is Swagger UI", () => pm.expect(pm.response.text()).to.match(/swagger-ui/i));`,
      ].join('\n'),
    }),
    req('GET /swagger-ui/swagger-initializer.js -> points at the OpenAPI document', {
      path: '/swagger-ui/swagger-initializer.js',
      auth: 'none',
      test: [
        S(200),
        `pm.test("loads /api-docs/openapi.json", () => pm.expect(pm.response.text()).to.include("/api-docs/openapi.json"));`,
      ].join('\n'),
    }),
    req('GET /no-such-endpoint -> 404 problem', {
      path: '/no-such-endpoint',
      auth: 'none',
      test: P(404, 'not-found'),
    }),
    req('DELETE /healthz -> 405 problem', {
      method: 'DELETE',
      path: '/healthz',
      auth: 'none',
      test: P(405, 'method-not-allowed'),
    }),
  ]
);

const customers = folder(
  'Admin: customers',
  'POST /admin/customers and key rotation, with the admin token ({{adminToken}}). Creates the customers later folders use: the main one ({{customerId}} / {{apiKey}}), another one ({{otherCustomerId}} / {{otherApiKey}}) and a poor one with a balance of 1 ({{poorCustomerId}} / {{poorApiKey}}).',
  [
    req('POST /admin/customers -> 201 with the API key', {
      method: 'POST',
      path: '/admin/customers',
      headers: { 'Idempotency-Key': '{{customerIdemKey}}' },
      body: { name: '{{customerName}}', balance: 0 },
      pre: [UNIQUE('customerName', 'postman-acme'), UNIQUE('customerIdemKey', 'create-customer')].join('\n'),
      test: [
        S(201),
        J(),
        NOT_REPLAYED,
        `const b = pm.response.json();`,
        `pm.test("customer created with a key", () => {`,
        `    pm.expect(b.customer_id).to.be.a("number").and.above(0);`,
        `    pm.expect(b.name).to.eql(pm.collectionVariables.get("customerName"));`,
        `    pm.expect(b.api_key).to.be.a("string").and.have.length.above(16);`,
        `    pm.expect(b.balance).to.eql(0);`,
        `});`,
        `pm.collectionVariables.set("customerId", b.customer_id);`,
        `pm.collectionVariables.set("apiKey", b.api_key);`,
        `pm.collectionVariables.set("expectedBalance", b.balance);`,
      ].join('\n'),
    }),
    req('POST /admin/customers (same Idempotency-Key and body) -> 201 replayed, api_key null', {
      method: 'POST',
      path: '/admin/customers',
      headers: { 'Idempotency-Key': '{{customerIdemKey}}' },
      body: { name: '{{customerName}}', balance: 0 },
      test: [
        S(201),
        J(),
        REPLAYED,
        `const b = pm.response.json();`,
        `pm.test("the first answer, without the key (stored hashed only)", () => {`,
        `    pm.expect(b.customer_id).to.eql(Number(pm.collectionVariables.get("customerId")));`,
        `    pm.expect(b.name).to.eql(pm.collectionVariables.get("customerName"));`,
        `    pm.expect(b.api_key).to.be.null;`,
        `});`,
      ].join('\n'),
    }),
    req('POST /admin/customers (same Idempotency-Key, other body) -> 409', {
      method: 'POST',
      path: '/admin/customers',
      headers: { 'Idempotency-Key': '{{customerIdemKey}}' },
      body: { name: '{{customerName}}-2', balance: 0 },
      test: P(409, 'conflict'),
    }),
    req('POST /admin/customers (name taken) -> 409', {
      method: 'POST',
      path: '/admin/customers',
      body: { name: '{{customerName}}', balance: 0 },
      test: P(409, 'conflict'),
    }),
    req('POST /admin/customers (blank name, negative balance) -> 400 errors', {
      method: 'POST',
      path: '/admin/customers',
      body: { name: '   ', balance: -1 },
      test: V('name', 'balance'),
    }),
    req('POST /admin/customers (unknown field) -> 400', {
      method: 'POST',
      path: '/admin/customers',
      body: { nmae: 'typo', name: 'x', balance: 0 },
      test: [P(400, 'bad-request'), `pm.test("detail names the field", () => pm.expect(p.detail).to.include("nmae"));`].join('\n'),
    }),
    req('POST /admin/customers (wrong JSON type) -> 400', {
      method: 'POST',
      path: '/admin/customers',
      body: { name: 'x', balance: '100' },
      test: P(400, 'bad-request'),
    }),
    req('POST /admin/customers (malformed JSON) -> 400', {
      method: 'POST',
      path: '/admin/customers',
      raw: '{"name": "x", ',
      test: P(400, 'bad-request'),
    }),
    req('POST /admin/customers (text/plain) -> 415', {
      method: 'POST',
      path: '/admin/customers',
      raw: '{"name": "x", "balance": 0}',
      contentType: 'text/plain',
      test: P(415, 'unsupported-media-type'),
    }),
    req('POST /admin/customers (no Authorization) -> 401', {
      method: 'POST',
      path: '/admin/customers',
      auth: 'none',
      body: { name: 'x', balance: 0 },
      test: P(401, 'unauthorized'),
    }),
    req('POST /admin/customers (unknown token) -> 401', {
      method: 'POST',
      path: '/admin/customers',
      auth: UNKNOWN_TOKEN,
      body: { name: 'x', balance: 0 },
      test: P(401, 'unauthorized'),
    }),
    req('POST /admin/customers (customer API key) -> 403', {
      method: 'POST',
      path: '/admin/customers',
      auth: 'customer',
      body: { name: 'x', balance: 0 },
      test: P(403, 'forbidden'),
    }),
    req('GET /admin/customers -> 405', {
      path: '/admin/customers',
      test: P(405, 'method-not-allowed'),
    }),
    req('POST /admin/customers (another customer, balance 10) -> 201', {
      method: 'POST',
      path: '/admin/customers',
      body: { name: '{{otherName}}', balance: 10 },
      pre: UNIQUE('otherName', 'postman-other'),
      test: [
        S(201),
        J(),
        `const b = pm.response.json();`,
        `pm.test("created with balance 10", () => {`,
        `    pm.expect(b.balance).to.eql(10);`,
        `    pm.expect(b.api_key).to.be.a("string");`,
        `});`,
        `pm.collectionVariables.set("otherCustomerId", b.customer_id);`,
        `pm.collectionVariables.set("otherApiKey", b.api_key);`,
      ].join('\n'),
    }),
    req('POST /admin/customers (poor customer, balance 1) -> 201', {
      method: 'POST',
      path: '/admin/customers',
      body: { name: '{{poorName}}', balance: 1 },
      pre: UNIQUE('poorName', 'postman-poor'),
      test: [
        S(201),
        J(),
        `const b = pm.response.json();`,
        `pm.test("created with balance 1", () => pm.expect(b.balance).to.eql(1));`,
        `pm.collectionVariables.set("poorCustomerId", b.customer_id);`,
        `pm.collectionVariables.set("poorApiKey", b.api_key);`,
      ].join('\n'),
    }),
    req('POST /admin/customers/{customer_id}/api-key -> 200 new key', {
      method: 'POST',
      path: '/admin/customers/{{otherCustomerId}}/api-key',
      pre: `pm.collectionVariables.set("oldOtherApiKey", pm.collectionVariables.get("otherApiKey"));`,
      test: [
        S(200),
        J(),
        `const b = pm.response.json();`,
        `pm.test("a new key for that customer", () => {`,
        `    pm.expect(b.customer_id).to.eql(Number(pm.collectionVariables.get("otherCustomerId")));`,
        `    pm.expect(b.api_key).to.be.a("string").and.not.eql(pm.collectionVariables.get("oldOtherApiKey"));`,
        `});`,
        `pm.collectionVariables.set("otherApiKey", b.api_key);`,
      ].join('\n'),
    }),
    req('GET /balance (rotated-out key) -> 401', {
      path: '/balance',
      auth: '{{oldOtherApiKey}}',
      test: P(401, 'unauthorized'),
    }),
    req('GET /balance (rotated-in key) -> 200', {
      path: '/balance',
      auth: 'other',
      test: [
        S(200),
        J(),
        `const b = pm.response.json();`,
        `pm.test("the new key acts for its customer", () => {`,
        `    pm.expect(b.user_id).to.eql(Number(pm.collectionVariables.get("otherCustomerId")));`,
        `    pm.expect(b.balance).to.eql(10);`,
        `});`,
      ].join('\n'),
    }),
    req('POST /admin/customers/{unknown}/api-key -> 404', {
      method: 'POST',
      path: `/admin/customers/${HUGE_ID}/api-key`,
      test: P(404, 'not-found'),
    }),
    req('POST /admin/customers/-1/api-key -> 404', {
      method: 'POST',
      path: '/admin/customers/-1/api-key',
      test: P(404, 'not-found'),
    }),
    req('POST /admin/customers/{customer_id}/api-key (customer API key) -> 403', {
      method: 'POST',
      path: '/admin/customers/{{customerId}}/api-key',
      auth: 'customer',
      test: P(403, 'forbidden'),
    }),
    req('POST /admin/customers/{customer_id}/api-key (no Authorization) -> 401', {
      method: 'POST',
      path: '/admin/customers/{{customerId}}/api-key',
      auth: 'none',
      test: P(401, 'unauthorized'),
    }),
    req('GET /admin/customers/{customer_id}/api-key -> 405', {
      path: '/admin/customers/{{customerId}}/api-key',
      test: P(405, 'method-not-allowed'),
    }),
  ]
);

const balance = folder(
  'Balance',
  'POST /balance/add (admin) and GET /balance with pagination. The main customer ends with 105 credits.',
  [
    req('POST /balance/add -> 200 credited', {
      method: 'POST',
      path: '/balance/add',
      headers: { 'Idempotency-Key': '{{topupIdemKey}}' },
      body: { user_id: '{{customerId}}', balance: 100, description: 'postman top-up' },
      pre: UNIQUE('topupIdemKey', 'poorIdemKey', 'topup'),
      test: [
        S(200),
        J(),
        NOT_REPLAYED,
        `const b = pm.response.json();`,
        `const expected = Number(pm.collectionVariables.get("expectedBalance")) + 100;`,
        `pm.test("balance raised by 100", () => {`,
        `    pm.expect(b.user_id).to.eql(Number(pm.collectionVariables.get("customerId")));`,
        `    pm.expect(b.balance).to.eql(expected);`,
        `    pm.expect(b.transaction_id).to.be.a("string").and.not.empty;`,
        `});`,
        `pm.collectionVariables.set("expectedBalance", b.balance);`,
        `pm.collectionVariables.set("topupTransactionId", b.transaction_id);`,
      ].join('\n'),
    }),
    req('POST /balance/add (same Idempotency-Key and body) -> 200 replayed, credited once', {
      method: 'POST',
      path: '/balance/add',
      headers: { 'Idempotency-Key': '{{topupIdemKey}}' },
      body: { user_id: '{{customerId}}', balance: 100, description: 'postman top-up' },
      test: [
        S(200),
        J(),
        REPLAYED,
        `const b = pm.response.json();`,
        `pm.test("the first answer: same transaction, same balance", () => {`,
        `    pm.expect(b.transaction_id).to.eql(pm.collectionVariables.get("topupTransactionId"));`,
        `    pm.expect(b.balance).to.eql(Number(pm.collectionVariables.get("expectedBalance")));`,
        `});`,
      ].join('\n'),
    }),
    req('POST /balance/add (same Idempotency-Key, other body) -> 409', {
      method: 'POST',
      path: '/balance/add',
      headers: { 'Idempotency-Key': '{{topupIdemKey}}' },
      body: { user_id: '{{customerId}}', balance: 101, description: 'postman top-up' },
      test: P(409, 'conflict'),
    }),
    req('POST /balance/add (amount synonym) -> 200', {
      method: 'POST',
      path: '/balance/add',
      body: { user_id: '{{customerId}}', amount: 5 },
      contentType: 'application/json; charset=utf-8',
      test: [
        S(200),
        J(),
        `const b = pm.response.json();`,
        `pm.test("balance raised by 5", () => pm.expect(b.balance).to.eql(Number(pm.collectionVariables.get("expectedBalance")) + 5));`,
        `pm.collectionVariables.set("expectedBalance", b.balance);`,
      ].join('\n'),
    }),
    req('POST /balance/add (zero) -> 400 errors.balance', {
      method: 'POST',
      path: '/balance/add',
      body: { user_id: '{{customerId}}', balance: 0 },
      test: V('balance'),
    }),
    req('POST /balance/add (over 10^12) -> 400 errors.balance', {
      method: 'POST',
      path: '/balance/add',
      body: { user_id: '{{customerId}}', balance: 1000000000001 },
      test: V('balance'),
    }),
    req('POST /balance/add (description over 255 characters) -> 400 errors.description', {
      method: 'POST',
      path: '/balance/add',
      body: { user_id: '{{customerId}}', balance: 1, description: '{{longDescription}}' },
      pre: `pm.collectionVariables.set("longDescription", "d".repeat(256));`,
      test: V('description'),
    }),
    req('POST /balance/add (unknown customer) -> 404', {
      method: 'POST',
      path: '/balance/add',
      raw: `{"user_id": ${HUGE_ID}, "balance": 1}`,
      test: P(404, 'not-found'),
    }),
    req('POST /balance/add (unknown field) -> 400', {
      method: 'POST',
      path: '/balance/add',
      body: { user_id: '{{customerId}}', balance: 1, note: 'typo' },
      test: [P(400, 'bad-request'), `pm.test("detail names the field", () => pm.expect(p.detail).to.include("note"));`].join('\n'),
    }),
    req('POST /balance/add (customer API key) -> 403', {
      method: 'POST',
      path: '/balance/add',
      auth: 'customer',
      body: { user_id: '{{customerId}}', balance: 1000 },
      test: P(403, 'forbidden'),
    }),
    req('POST /balance/add (no Authorization) -> 401', {
      method: 'POST',
      path: '/balance/add',
      auth: 'none',
      body: { user_id: '{{customerId}}', balance: 1 },
      test: P(401, 'unauthorized'),
    }),
    req('POST /balance/add (text/plain) -> 415', {
      method: 'POST',
      path: '/balance/add',
      raw: 'user_id=1&balance=1',
      contentType: 'text/plain',
      test: P(415, 'unsupported-media-type'),
    }),
    req('GET /balance/add -> 405', {
      path: '/balance/add',
      test: P(405, 'method-not-allowed'),
    }),
    req('GET /balance -> 200 balance and ledger, newest first', {
      path: '/balance',
      auth: 'customer',
      test: [
        S(200),
        J(),
        `const b = pm.response.json();`,
        `pm.test("the customer's balance", () => {`,
        `    pm.expect(b.user_id).to.eql(Number(pm.collectionVariables.get("customerId")));`,
        `    pm.expect(b.balance).to.eql(Number(pm.collectionVariables.get("expectedBalance")));`,
        `});`,
        `pm.test("transactions have the contract's fields", () => {`,
        `    pm.expect(b.transactions).to.be.an("array").that.is.not.empty;`,
        `    for (const t of b.transactions) {`,
        `        pm.expect(t).to.include.keys("transaction_id", "amount", "transaction_type", "description", "created_at");`,
        `        pm.expect(t.amount).to.be.a("number");`,
        `        pm.expect(t.created_at).to.match(${RFC3339});`,
        `    }`,
        `});`,
        `pm.test("newest first: the 5 top-up, then the 100 top-up", () => {`,
        `    pm.expect(b.transactions.map((t) => t.amount).slice(0, 2)).to.eql([5, 100]);`,
        `    pm.expect(b.transactions[1].transaction_id).to.eql(pm.collectionVariables.get("topupTransactionId"));`,
        `    pm.expect(b.transactions[1].description).to.eql("postman top-up");`,
        `});`,
        `pm.test("balance = sum of the ledger", () => {`,
        `    pm.expect(b.next_cursor).to.be.null;`,
        `    pm.expect(b.transactions.reduce((s, t) => s + t.amount, 0)).to.eql(b.balance);`,
        `});`,
      ].join('\n'),
    }),
    req('GET /balance?limit=1 -> 200 first page with next_cursor', {
      path: '/balance?limit=1',
      auth: 'customer',
      test: [
        S(200),
        J(),
        `const b = pm.response.json();`,
        `pm.test("one transaction and a cursor", () => {`,
        `    pm.expect(b.transactions).to.have.length(1);`,
        `    pm.expect(b.next_cursor).to.be.a("string").and.not.empty;`,
        `});`,
        `pm.collectionVariables.set("balanceCursor", b.next_cursor);`,
        `pm.collectionVariables.set("firstTransactionId", b.transactions[0].transaction_id);`,
      ].join('\n'),
    }),
    req('GET /balance?limit=1&cursor={{balanceCursor}} -> 200 the next, older page', {
      path: '/balance?limit=1&cursor={{balanceCursor}}',
      auth: 'customer',
      test: [
        S(200),
        J(),
        `const b = pm.response.json();`,
        `pm.test("another, older transaction", () => {`,
        `    pm.expect(b.transactions).to.have.length(1);`,
        `    pm.expect(b.transactions[0].transaction_id).to.not.eql(pm.collectionVariables.get("firstTransactionId"));`,
        `    pm.expect(b.transactions[0].amount).to.eql(100);`,
        `});`,
      ].join('\n'),
    }),
    req('GET /balance?user_id={{customerId}} (admin) -> 200', {
      path: '/balance?user_id={{customerId}}',
      test: [
        S(200),
        J(),
        `const b = pm.response.json();`,
        `pm.test("the named customer's balance", () => {`,
        `    pm.expect(b.user_id).to.eql(Number(pm.collectionVariables.get("customerId")));`,
        `    pm.expect(b.balance).to.eql(Number(pm.collectionVariables.get("expectedBalance")));`,
        `});`,
      ].join('\n'),
    }),
    req('GET /balance (admin without user_id) -> 400 errors.user_id', {
      path: '/balance',
      test: V('user_id'),
    }),
    req('GET /balance?user_id={unknown} (admin) -> 404', {
      path: `/balance?user_id=${HUGE_ID}`,
      test: P(404, 'not-found'),
    }),
    req("GET /balance?user_id={{otherCustomerId}} (customer API key) -> 403", {
      path: '/balance?user_id={{otherCustomerId}}',
      auth: 'customer',
      test: P(403, 'forbidden'),
    }),
    req('GET /balance?limit=0 -> 400 errors.limit', {
      path: '/balance?limit=0',
      auth: 'customer',
      test: V('limit'),
    }),
    req('GET /balance?limit=101 -> 400 errors.limit', {
      path: '/balance?limit=101',
      auth: 'customer',
      test: V('limit'),
    }),
    req('GET /balance?cursor=garbage -> 400 errors.cursor', {
      path: '/balance?cursor=garbage',
      auth: 'customer',
      test: V('cursor'),
    }),
    req('GET /balance?limit=ten -> 400', {
      path: '/balance?limit=ten',
      auth: 'customer',
      test: P(400, 'bad-request'),
    }),
    req('GET /balance?colour=blue (unknown parameter) -> 400', {
      path: '/balance?colour=blue',
      auth: 'customer',
      test: P(400, 'bad-request'),
    }),
    req('GET /balance (no Authorization) -> 401', {
      path: '/balance',
      auth: 'none',
      test: P(401, 'unauthorized'),
    }),
    req('GET /balance (Basic credentials) -> 401', {
      path: '/balance',
      auth: 'none',
      headers: { Authorization: 'Basic dXNlcjpwYXNz' },
      test: P(401, 'unauthorized'),
    }),
    req('GET /balance (unknown key) -> 401', {
      path: '/balance',
      auth: UNKNOWN_TOKEN,
      test: P(401, 'unauthorized'),
    }),
    req('POST /balance -> 405', {
      method: 'POST',
      path: '/balance',
      auth: 'customer',
      test: P(405, 'method-not-allowed'),
    }),
  ]
);

const send = folder(
  'SMS: send',
  'POST /sms/send: normal, express, several recipients, UCS-2 and multipart texts, operator preference, Idempotency-Key replay and conflict, and every error. Each accepted send checks cost = recipients x segments x price and that exactly that much left the balance ({{expectedBalance}}).',
  [
    req('POST /sms/send (normal, two recipients) -> 202', {
      method: 'POST',
      path: '/sms/send',
      auth: 'customer',
      headers: { 'Idempotency-Key': '{{sendIdemKey}}' },
      body: { text: 'Hello from Postman', recipients: ['+989121234567', '09127654321'], type: 'normal' },
      pre: UNIQUE('sendIdemKey', 'send'),
      test: SENT({ recipients: 2, segments: 1, encoding: 'GSM-7', type: 'normal', price: 'priceNormal', save: 'smsId' }),
    }),
    req('POST /sms/send (same Idempotency-Key and body) -> 202 replayed', {
      method: 'POST',
      path: '/sms/send',
      auth: 'customer',
      headers: { 'Idempotency-Key': '{{sendIdemKey}}' },
      body: { text: 'Hello from Postman', recipients: ['+989121234567', '09127654321'], type: 'normal' },
      test: [
        S(202),
        J(),
        REPLAYED,
        `const b = pm.response.json();`,
        `pm.test("the first answer: same sms_identifier and balance", () => {`,
        `    pm.expect(b.sms_identifier).to.eql(pm.collectionVariables.get("smsId"));`,
        `    pm.expect(b.balance).to.eql(Number(pm.collectionVariables.get("expectedBalance")));`,
        `});`,
      ].join('\n'),
    }),
    req('GET /balance (after the replay) -> charged once', {
      path: '/balance',
      auth: 'customer',
      test: [
        S(200),
        J(),
        `const b = pm.response.json();`,
        `const id = pm.collectionVariables.get("smsId");`,
        `pm.test("balance unchanged by the replay", () => pm.expect(b.balance).to.eql(Number(pm.collectionVariables.get("expectedBalance"))));`,
        `pm.test("one charge row of -2 for the request", () => {`,
        `    const rows = b.transactions.filter((t) => t.sms_identifier === id);`,
        `    pm.expect(rows.map((t) => [t.transaction_type, t.amount])).to.eql([["charge", -2]]);`,
        `});`,
      ].join('\n'),
    }),
    req('POST /sms/send (same Idempotency-Key, other body) -> 409', {
      method: 'POST',
      path: '/sms/send',
      auth: 'customer',
      headers: { 'Idempotency-Key': '{{sendIdemKey}}' },
      body: { text: 'Hello from Postman, again', recipients: ['+989121234567', '09127654321'], type: 'normal' },
      test: P(409, 'conflict'),
    }),
    req('POST /sms/send (express) -> 202', {
      method: 'POST',
      path: '/sms/send',
      auth: 'customer',
      body: { text: 'Your code is 4821', recipients: ['+989121234568'], type: 'express' },
      test: SENT({ recipients: 1, segments: 1, encoding: 'GSM-7', type: 'express', price: 'priceExpress', save: 'expressSmsId' }),
    }),
    req('GET /sms/{{expressSmsId}} (poll until DELIVERED, right after sending)', {
      path: '/sms/{{expressSmsId}}',
      auth: 'customer',
      pre: POLL_PRE,
      test: POLL(
        'DELIVERED',
        'states.every((s) => s === "DELIVERED")',
        [
          `const id = pm.collectionVariables.get("expressSmsId");`,
          SMS_FIELDS,
          `pm.test("express, one recipient", () => {`,
          `    pm.expect(b.type).to.eql("express");`,
          `    pm.expect(b.counts).to.eql({ DELIVERED: 1 });`,
          `});`,
        ].join('\n')
      ),
    }),
    req('POST /sms/send (three recipients, type omitted) -> 202 normal', {
      method: 'POST',
      path: '/sms/send',
      auth: 'customer',
      body: { text: 'Meeting at 10:00', recipients: ['+989121230001', '+989121230002', '09121230003'] },
      test: SENT({ recipients: 3, segments: 1, encoding: 'GSM-7', type: 'normal', price: 'priceNormal', save: 'multiSmsId' }),
    }),
    req('POST /sms/send (UCS-2, 71 characters) -> 202, 2 segments', {
      method: 'POST',
      path: '/sms/send',
      auth: 'customer',
      body: { text: '{{smsText}}', recipients: ['+989121234567'] },
      pre: dedent(`
        // 71 UTF-16 code units of Persian: over the 70 of a single UCS-2 segment -> 2 x 67.
        const text = "سلام دنیا ".repeat(8).slice(0, 71);
        pm.collectionVariables.set("smsText", text);
      `).join('\n'),
      test: SENT({ recipients: 1, segments: 2, encoding: 'UCS-2', type: 'normal', price: 'priceNormal', save: 'ucs2SmsId' }),
    }),
    req('POST /sms/send (UCS-2, 70 characters) -> 202, 1 segment', {
      method: 'POST',
      path: '/sms/send',
      auth: 'customer',
      body: { text: '{{smsText}}', recipients: ['+989121234567'] },
      pre: `pm.collectionVariables.set("smsText", "سلام دنیا ".repeat(8).slice(0, 70));`,
      test: SENT({ recipients: 1, segments: 1, encoding: 'UCS-2', type: 'normal', price: 'priceNormal' }),
    }),
    req('POST /sms/send (GSM-7, 161 characters) -> 202, 2 segments', {
      method: 'POST',
      path: '/sms/send',
      auth: 'customer',
      body: { text: '{{smsText}}', recipients: ['+989121234567'] },
      pre: `pm.collectionVariables.set("smsText", "x".repeat(161));`,
      test: SENT({ recipients: 1, segments: 2, encoding: 'GSM-7', type: 'normal', price: 'priceNormal' }),
    }),
    req('POST /sms/send (GSM-7 extension, 80 x € = 160 septets) -> 202, 1 segment', {
      method: 'POST',
      path: '/sms/send',
      auth: 'customer',
      body: { text: '{{smsText}}', recipients: ['+989121234567'] },
      pre: `pm.collectionVariables.set("smsText", "€".repeat(80));`,
      test: SENT({ recipients: 1, segments: 1, encoding: 'GSM-7', type: 'normal', price: 'priceNormal' }),
    }),
    req('POST /sms/send (GSM-7 extension, 81 x € = 162 septets) -> 202, 2 segments', {
      method: 'POST',
      path: '/sms/send',
      auth: 'customer',
      body: { text: '{{smsText}}', recipients: ['+989121234567'] },
      pre: `pm.collectionVariables.set("smsText", "€".repeat(81));`,
      test: SENT({ recipients: 1, segments: 2, encoding: 'GSM-7', type: 'normal', price: 'priceNormal' }),
    }),
    req('POST /sms/send (operator preference) -> 202', {
      method: 'POST',
      path: '/sms/send',
      auth: 'customer',
      body: { text: 'Via a chosen operator', recipients: ['+989121234569'], operators: ['{{dlrOperator}}'] },
      test: SENT({ recipients: 1, segments: 1, encoding: 'GSM-7', type: 'normal', price: 'priceNormal', save: 'preferredSmsId' }),
    }),
    req('POST /sms/send (unknown operator) -> 400 errors', {
      method: 'POST',
      path: '/sms/send',
      auth: 'customer',
      body: { text: 'hi', recipients: ['+989121234567'], operators: ['no-such-operator'] },
      test: [
        P(400, 'validation-error'),
        `pm.test("errors names operators", () => pm.expect(Object.keys(p.errors || {}).join(",")).to.match(/^operators/));`,
      ].join('\n'),
    }),
    req('POST /sms/send (admin token with customer_id) -> 202', {
      method: 'POST',
      path: '/sms/send',
      body: { customer_id: '{{customerId}}', text: 'Sent by the admin', recipients: ['+989121234567'] },
      test: SENT({ recipients: 1, segments: 1, encoding: 'GSM-7', type: 'normal', price: 'priceNormal' }),
    }),
    req('POST /sms/send (customer_id of the key) -> 202', {
      method: 'POST',
      path: '/sms/send',
      auth: 'customer',
      body: { customer_id: '{{customerId}}', text: 'Own customer_id', recipients: ['+989121234567'] },
      test: SENT({ recipients: 1, segments: 1, encoding: 'GSM-7', type: 'normal', price: 'priceNormal' }),
    }),
    req('POST /sms/send (admin token without customer_id) -> 400 errors.customer_id', {
      method: 'POST',
      path: '/sms/send',
      body: { text: 'hi', recipients: ['+989121234567'] },
      test: V('customer_id'),
    }),
    req('POST /sms/send (customer_id of another customer) -> 403', {
      method: 'POST',
      path: '/sms/send',
      auth: 'customer',
      body: { customer_id: '{{otherCustomerId}}', text: 'hi', recipients: ['+989121234567'] },
      test: P(403, 'forbidden'),
    }),
    req('POST /sms/send (empty text, bad numbers, bad type) -> 400 errors', {
      method: 'POST',
      path: '/sms/send',
      auth: 'customer',
      body: { text: '', recipients: ['12ab', '+98912'], type: 'urgent' },
      test: V('text', 'recipients[0]', 'recipients[1]', 'type'),
    }),
    req('POST /sms/send (no recipients) -> 400 errors.recipients', {
      method: 'POST',
      path: '/sms/send',
      auth: 'customer',
      body: { text: 'hi', recipients: [] },
      test: V('recipients'),
    }),
    req('POST /sms/send (duplicate after normalization) -> 400 errors', {
      method: 'POST',
      path: '/sms/send',
      auth: 'customer',
      body: { text: 'hi', recipients: ['+989121234567', '09121234567'] },
      test: V('recipients[1]'),
    }),
    req('POST /sms/send (over MAX_SEGMENTS) -> 400 errors.text', {
      method: 'POST',
      path: '/sms/send',
      auth: 'customer',
      body: { text: '{{smsText}}', recipients: ['+989121234567'] },
      pre: `// 10 x 153 septets fit in 10 segments; one more needs an 11th.\npm.collectionVariables.set("smsText", "x".repeat(1531));`,
      test: V('text'),
    }),
    req('POST /sms/send (unknown field) -> 400', {
      method: 'POST',
      path: '/sms/send',
      auth: 'customer',
      body: { text: 'hi', recipeints: ['+989121234567'] },
      test: [P(400, 'bad-request'), `pm.test("detail names the field", () => pm.expect(p.detail).to.include("recipeints"));`].join('\n'),
    }),
    req('POST /sms/send (malformed JSON) -> 400', {
      method: 'POST',
      path: '/sms/send',
      auth: 'customer',
      raw: '{"text": "hi", "recipients": ["+989121234567"',
      test: P(400, 'bad-request'),
    }),
    req('POST /sms/send (text/plain) -> 415', {
      method: 'POST',
      path: '/sms/send',
      auth: 'customer',
      raw: '{"text": "hi", "recipients": ["+989121234567"]}',
      contentType: 'text/plain',
      test: P(415, 'unsupported-media-type'),
    }),
    req('POST /sms/send (body over 256 KiB) -> 413', {
      method: 'POST',
      path: '/sms/send',
      auth: 'customer',
      body: { text: '{{hugeText}}', recipients: ['+989121234567'] },
      pre: `// MAX_BODY_BYTES defaults to 262144.\npm.collectionVariables.set("hugeText", "x".repeat(300 * 1024));`,
      test: [P(413, 'payload-too-large'), `pm.collectionVariables.unset("hugeText");`].join('\n'),
    }),
    req('POST /sms/send (invalid Idempotency-Key) -> 400', {
      method: 'POST',
      path: '/sms/send',
      auth: 'customer',
      headers: { 'Idempotency-Key': '{{longIdemKey}}' },
      body: { text: 'hi', recipients: ['+989121234567'] },
      pre: `// Keys are 1-255 visible ASCII characters.\npm.collectionVariables.set("longIdemKey", "k".repeat(256));`,
      test: P(400, 'bad-request'),
    }),
    req('POST /sms/send (no Authorization) -> 401', {
      method: 'POST',
      path: '/sms/send',
      auth: 'none',
      body: { text: 'hi', recipients: ['+989121234567'] },
      test: P(401, 'unauthorized'),
    }),
    req('POST /sms/send (unknown key) -> 401', {
      method: 'POST',
      path: '/sms/send',
      auth: UNKNOWN_TOKEN,
      body: { text: 'hi', recipients: ['+989121234567'] },
      test: P(401, 'unauthorized'),
    }),
    req('GET /sms/send -> 405', {
      path: '/sms/send',
      auth: 'customer',
      test: P(405, 'method-not-allowed'),
    }),
    req('POST /sms/send (balance 1, cost 2) -> 402, nothing charged', {
      method: 'POST',
      path: '/sms/send',
      auth: 'poor',
      headers: { 'Idempotency-Key': '{{poorIdemKey}}' },
      body: { text: 'hi', recipients: ['+989121234567', '+989127654321'] },
      pre: UNIQUE('poorIdemKey', 'poor-send'),
      test: [
        P(402, 'insufficient-balance'),
        `pm.test("says the balance and what was required", () => {`,
        `    pm.expect(p.balance).to.eql(1);`,
        `    pm.expect(p.required).to.eql(2 * Number(pm.variables.get("priceNormal")));`,
        `});`,
      ].join('\n'),
    }),
    req('GET /balance (after the 402) -> unchanged', {
      path: '/balance',
      auth: 'poor',
      test: [
        S(200),
        J(),
        `const b = pm.response.json();`,
        `pm.test("balance still 1, no charge booked", () => {`,
        `    pm.expect(b.balance).to.eql(1);`,
        `    pm.expect(b.transactions.filter((t) => t.transaction_type === "charge")).to.be.empty;`,
        `});`,
      ].join('\n'),
    }),
    req('GET /sms/history (after the 402) -> nothing queued', {
      path: '/sms/history',
      auth: 'poor',
      test: [S(200), J(), `pm.test("no message", () => pm.expect(pm.response.json().items).to.eql([]));`].join('\n'),
    }),
    req('POST /balance/add (poor customer, +1) -> 200 balance 2', {
      method: 'POST',
      path: '/balance/add',
      body: { user_id: '{{poorCustomerId}}', balance: 1 },
      test: [S(200), J(), `pm.test("balance 2", () => pm.expect(pm.response.json().balance).to.eql(2));`].join('\n'),
    }),
    req('POST /sms/send (same Idempotency-Key after the top-up) -> 202, the 402 was not stored', {
      method: 'POST',
      path: '/sms/send',
      auth: 'poor',
      headers: { 'Idempotency-Key': '{{poorIdemKey}}' },
      body: { text: 'hi', recipients: ['+989121234567', '+989127654321'] },
      test: [
        S(202),
        J(),
        NOT_REPLAYED,
        `const b = pm.response.json();`,
        `pm.test("accepted and charged 2", () => {`,
        `    pm.expect(b.recipients).to.eql(2);`,
        `    pm.expect(b.cost).to.eql(2);`,
        `    pm.expect(b.balance).to.eql(0);`,
        `});`,
      ].join('\n'),
    }),
    req('POST /sms/send (balance 0, allow_partial) -> 402', {
      method: 'POST',
      path: '/sms/send',
      auth: 'poor',
      body: { text: 'hi', recipients: ['+989121234567', '+989127654321'], allow_partial: true },
      test: [
        P(402, 'insufficient-balance'),
        `pm.test("no recipient is covered by a balance of 0", () => pm.expect(p.balance).to.eql(0));`,
      ].join('\n'),
    }),
    req('POST /balance/add (poor customer, +1 again) -> 200 balance 1', {
      method: 'POST',
      path: '/balance/add',
      body: { user_id: '{{poorCustomerId}}', balance: 1 },
      test: [S(200), J(), `pm.test("balance 1", () => pm.expect(pm.response.json().balance).to.eql(1));`].join('\n'),
    }),
    req('POST /sms/send (allow_partial, balance 1, two recipients) -> 202, first recipient accepted', {
      method: 'POST',
      path: '/sms/send',
      auth: 'poor',
      body: { text: 'hi', recipients: ['+989121234567', '+989127654321'], allow_partial: true },
      test: [
        S(202),
        J(),
        `const b = pm.response.json();`,
        `pm.test("the recipient the balance covers is accepted, the other rejected", () => {`,
        `    pm.expect(b.recipients).to.eql(1);`,
        `    pm.expect(b.accepted).to.eql(["+989121234567"]);`,
        `    pm.expect(b.rejected).to.eql([{ recipient: "+989127654321", reason: "insufficient_balance" }]);`,
        `    pm.expect(b.cost).to.eql(1);`,
        `    pm.expect(b.balance).to.eql(0);`,
        `});`,
      ].join('\n'),
    }),
    req('GET /balance (poor customer) -> 0 = sum of the ledger', {
      path: '/balance',
      auth: 'poor',
      test: [
        S(200),
        J(),
        `const b = pm.response.json();`,
        `pm.test("spent the whole balance, never more", () => {`,
        `    pm.expect(b.balance).to.eql(0);`,
        `    pm.expect(b.transactions.reduce((s, t) => s + t.amount, 0)).to.eql(0);`,
        `    pm.expect(b.transactions.filter((t) => t.transaction_type === "charge").map((t) => t.amount)).to.eql([-1, -2]);`,
        `});`,
      ].join('\n'),
    }),
  ]
);


const history = folder(
  'SMS: status and history',
  'GET /sms/{sms_identifier} polled until the operators delivered (delivery is asynchronous: the request repeats itself with pm.execution.setNextRequest, at most {{pollAttempts}} times, {{pollIntervalMs}} ms apart), then GET /sms/history with filters, limit and cursor.',
  [
    req('GET /sms/{{smsId}} (poll until DELIVERED)', {
      path: '/sms/{{smsId}}',
      auth: 'customer',
      pre: POLL_PRE,
      test: POLL(
        'every recipient DELIVERED',
        'states.every((s) => s === "DELIVERED")',
        [
          `const id = pm.collectionVariables.get("smsId");`,
          SMS_FIELDS,
          `pm.test("the request as sent", () => {`,
          `    pm.expect(b.type).to.eql("normal");`,
          `    pm.expect(b.text).to.eql("Hello from Postman");`,
          `    pm.expect(b.encoding).to.eql("GSM-7");`,
          `    pm.expect(b.recipients).to.eql(2);`,
          `    pm.expect(b.cost).to.eql(2 * Number(pm.variables.get("priceNormal")));`,
          `    pm.expect(b.counts).to.eql({ DELIVERED: 2 });`,
          `    pm.expect(b.messages.map((m) => m.recipient).sort()).to.eql(["+989121234567", "+989127654321"]);`,
          `});`,
          `pm.test("each went PENDING -> SENT -> DELIVERED through an operator", () => {`,
          `    for (const m of b.messages) {`,
          `        pm.expect(m.provider).to.be.a("string").and.not.empty;`,
          `        pm.expect(m.provider_message_id).to.be.a("string").and.not.empty;`,
          `        const seen = m.events.map((e) => e.status);`,
          `        pm.expect(seen).to.include.members(["PENDING", "SENT", "DELIVERED"]);`,
          `        pm.expect(seen.indexOf("SENT")).to.be.below(seen.indexOf("DELIVERED"));`,
          `    }`,
          `});`,
        ].join('\n')
      ),
    }),
    req('GET /sms/{{multiSmsId}} (poll until DELIVERED)', {
      path: '/sms/{{multiSmsId}}',
      auth: 'customer',
      pre: POLL_PRE,
      test: POLL(
        'every recipient DELIVERED',
        'states.every((s) => s === "DELIVERED")',
        [
          `const id = pm.collectionVariables.get("multiSmsId");`,
          SMS_FIELDS,
          `pm.test("three recipients, normalized", () => {`,
          `    pm.expect(b.counts).to.eql({ DELIVERED: 3 });`,
          `    pm.expect(b.messages.map((m) => m.recipient).sort()).to.eql(["+989121230001", "+989121230002", "+989121230003"]);`,
          `});`,
        ].join('\n')
      ),
    }),
    req('GET /sms/{{ucs2SmsId}} -> 200 UCS-2, 2 segments', {
      path: '/sms/{{ucs2SmsId}}',
      auth: 'customer',
      test: [
        S(200),
        J(),
        `const b = pm.response.json();`,
        `const id = pm.collectionVariables.get("ucs2SmsId");`,
        SMS_FIELDS,
        `pm.test("UCS-2 text kept as sent", () => {`,
        `    pm.expect(b.encoding).to.eql("UCS-2");`,
        `    pm.expect(b.segments).to.eql(2);`,
        `    pm.expect(b.text).to.have.length(71);`,
        `});`,
      ].join('\n'),
    }),
    req('GET /sms/{{preferredSmsId}} (poll until SENT by the preferred operator)', {
      path: '/sms/{{preferredSmsId}}',
      auth: 'customer',
      pre: POLL_PRE,
      test: POLL(
        'SENT',
        'states.every((s) => s === "SENT" || s === "DELIVERED")',
        [
          `const id = pm.collectionVariables.get("preferredSmsId");`,
          SMS_FIELDS,
          `const op = pm.variables.get("dlrOperator");`,
          `pm.test("sent by the preferred operator " + op, () => {`,
          `    pm.expect(b.operators).to.eql([op]);`,
          `    pm.expect(b.messages[0].provider).to.eql(op);`,
          `    pm.expect(b.messages[0].provider_message_id).to.be.a("string").and.not.empty;`,
          `});`,
          `pm.collectionVariables.set("providerMessageId", b.messages[0].provider_message_id);`,
        ].join('\n')
      ),
    }),
    req('GET /sms/{{smsId}}?user_id={{customerId}} (admin) -> 200', {
      path: '/sms/{{smsId}}?user_id={{customerId}}',
      test: [
        S(200),
        J(),
        `pm.test("the customer's request", () => pm.expect(pm.response.json().sms_identifier).to.eql(pm.collectionVariables.get("smsId")));`,
      ].join('\n'),
    }),
    req('GET /sms/{{smsId}} (admin without user_id) -> 400 errors.user_id', {
      path: '/sms/{{smsId}}',
      test: V('user_id'),
    }),
    req("GET /sms/{{smsId}} (another customer's key) -> 404", {
      path: '/sms/{{smsId}}',
      auth: 'other',
      test: P(404, 'not-found'),
    }),
    req('GET /sms/{random uuid} -> 404', {
      path: '/sms/{{$guid}}',
      auth: 'customer',
      test: P(404, 'not-found'),
    }),
    req('GET /sms/not-a-uuid -> 404', {
      path: '/sms/not-a-uuid',
      auth: 'customer',
      test: P(404, 'not-found'),
    }),
    req('GET /sms/{{smsId}}?colour=blue (unknown parameter) -> 400', {
      path: '/sms/{{smsId}}?colour=blue',
      auth: 'customer',
      test: P(400, 'bad-request'),
    }),
    req('GET /sms/{{smsId}} (no Authorization) -> 401', {
      path: '/sms/{{smsId}}',
      auth: 'none',
      test: P(401, 'unauthorized'),
    }),
    req('GET /sms/{{smsId}} (unknown key) -> 401', {
      path: '/sms/{{smsId}}',
      auth: UNKNOWN_TOKEN,
      test: P(401, 'unauthorized'),
    }),
    req('POST /sms/{{smsId}} -> 405', {
      method: 'POST',
      path: '/sms/{{smsId}}',
      auth: 'customer',
      test: P(405, 'method-not-allowed'),
    }),
    req('GET /sms/history?limit=2 -> 200 first page, newest first', {
      path: '/sms/history?limit=2',
      auth: 'customer',
      test: [
        S(200),
        J(),
        `const b = pm.response.json();`,
        `pm.test("two items and a cursor", () => {`,
        `    pm.expect(b.items).to.have.length(2);`,
        `    pm.expect(b.next_cursor).to.be.a("string").and.not.empty;`,
        `});`,
        `pm.test("items have the contract's fields", () => {`,
        `    for (const i of b.items) {`,
        `        pm.expect(i).to.include.keys("sms_identifier", "recipient", "status", "type", "provider", "segments", "created_at", "updated_at");`,
        `        pm.expect(i.created_at).to.match(${RFC3339});`,
        `    }`,
        `});`,
        `pm.test("newest first", () => pm.expect(Date.parse(b.items[0].created_at)).to.be.at.least(Date.parse(b.items[1].created_at)));`,
        `pm.collectionVariables.set("historyCursor", b.next_cursor);`,
        `pm.collectionVariables.set("historyPage1", JSON.stringify(b.items.map((i) => i.sms_identifier + " " + i.recipient)));`,
        `pm.collectionVariables.set("historyPage1Oldest", b.items[1].created_at);`,
      ].join('\n'),
    }),
    req('GET /sms/history?limit=2&cursor={{historyCursor}} -> 200 the next page', {
      path: '/sms/history?limit=2&cursor={{historyCursor}}',
      auth: 'customer',
      test: [
        S(200),
        J(),
        `const b = pm.response.json();`,
        `const page1 = JSON.parse(pm.collectionVariables.get("historyPage1"));`,
        `pm.test("two other, older items", () => {`,
        `    pm.expect(b.items).to.have.length(2);`,
        `    for (const i of b.items) {`,
        `        pm.expect(page1).to.not.include(i.sms_identifier + " " + i.recipient);`,
        `        pm.expect(Date.parse(i.created_at)).to.be.at.most(Date.parse(pm.collectionVariables.get("historyPage1Oldest")));`,
        `    }`,
        `});`,
      ].join('\n'),
    }),
    req('GET /sms/history?sms_identifier={{smsId}} -> the request\'s rows', {
      path: '/sms/history?sms_identifier={{smsId}}',
      auth: 'customer',
      test: [
        S(200),
        J(),
        `const b = pm.response.json();`,
        `pm.test("one row per recipient, delivered", () => {`,
        `    pm.expect(b.items.map((i) => i.recipient).sort()).to.eql(["+989121234567", "+989127654321"]);`,
        `    for (const i of b.items) {`,
        `        pm.expect(i.sms_identifier).to.eql(pm.collectionVariables.get("smsId"));`,
        `        pm.expect(i.status).to.eql("DELIVERED");`,
        `        pm.expect(i.type).to.eql("normal");`,
        `        pm.expect(i.segments).to.eql(1);`,
        `        pm.expect(i.provider).to.be.a("string").and.not.empty;`,
        `    }`,
        `    pm.expect(b.next_cursor).to.be.null;`,
        `});`,
      ].join('\n'),
    }),
    req('GET /sms/history?status=delivered&type=Express -> filters are case-insensitive', {
      path: '/sms/history?status=delivered&type=Express',
      auth: 'customer',
      test: [
        S(200),
        J(),
        `const b = pm.response.json();`,
        `pm.test("only delivered express rows, including the express request", () => {`,
        `    pm.expect(b.items).to.not.be.empty;`,
        `    for (const i of b.items) {`,
        `        pm.expect(i.status).to.eql("DELIVERED");`,
        `        pm.expect(i.type).to.eql("express");`,
        `    }`,
        `    pm.expect(b.items.map((i) => i.sms_identifier)).to.include(pm.collectionVariables.get("expressSmsId"));`,
        `});`,
      ].join('\n'),
    }),
    req('GET /sms/history?recipient=09127654321 -> normalized recipient filter', {
      path: '/sms/history?recipient=09127654321',
      auth: 'customer',
      test: [
        S(200),
        J(),
        `const b = pm.response.json();`,
        `pm.test("only +989127654321, including the first request", () => {`,
        `    pm.expect(b.items).to.not.be.empty;`,
        `    for (const i of b.items) pm.expect(i.recipient).to.eql("+989127654321");`,
        `    pm.expect(b.items.map((i) => i.sms_identifier)).to.include(pm.collectionVariables.get("smsId"));`,
        `});`,
      ].join('\n'),
    }),
    req('GET /sms/history?from=...&to=... -> time window', {
      path: '/sms/history?from={{historyFrom}}&to={{historyTo}}&limit=100',
      auth: 'customer',
      pre: dedent(`
        pm.collectionVariables.set("historyFrom", new Date(Date.now() - 3600e3).toISOString());
        pm.collectionVariables.set("historyTo", new Date(Date.now() + 3600e3).toISOString());
      `).join('\n'),
      test: [
        S(200),
        J(),
        `const b = pm.response.json();`,
        `pm.test("this run's rows are inside the last hour", () => pm.expect(b.items.map((i) => i.sms_identifier)).to.include(pm.collectionVariables.get("smsId")));`,
      ].join('\n'),
    }),
    req('GET /sms/history?from=<in an hour> -> 200 empty', {
      path: '/sms/history?from={{historyFuture}}',
      auth: 'customer',
      pre: `pm.collectionVariables.set("historyFuture", new Date(Date.now() + 3600e3).toISOString());`,
      test: [
        S(200),
        J(),
        `const b = pm.response.json();`,
        `pm.test("no items, no cursor", () => {`,
        `    pm.expect(b.items).to.eql([]);`,
        `    pm.expect(b.next_cursor).to.be.null;`,
        `});`,
      ].join('\n'),
    }),
    req('GET /sms/history (another customer) -> only its own rows', {
      path: '/sms/history',
      auth: 'other',
      test: [
        S(200),
        J(),
        `const b = pm.response.json();`,
        `pm.test("none of this customer's rows", () => pm.expect(b.items).to.eql([]));`,
      ].join('\n'),
    }),
    req('GET /sms/history?user_id={{customerId}} (admin) -> 200', {
      path: '/sms/history?user_id={{customerId}}&sms_identifier={{smsId}}',
      test: [
        S(200),
        J(),
        `pm.test("the named customer's rows", () => pm.expect(pm.response.json().items).to.have.length(2));`,
      ].join('\n'),
    }),
    req('GET /sms/history?status=bogus&type=urgent&from=yesterday -> 400 errors', {
      path: '/sms/history?status=bogus&type=urgent&from=yesterday',
      auth: 'customer',
      test: V('status', 'type', 'from'),
    }),
    req('GET /sms/history?sms_identifier=nope&recipient=12ab -> 400 errors', {
      path: '/sms/history?sms_identifier=nope&recipient=12ab',
      auth: 'customer',
      test: V('sms_identifier', 'recipient'),
    }),
    req('GET /sms/history?limit=0 -> 400 errors.limit', {
      path: '/sms/history?limit=0',
      auth: 'customer',
      test: V('limit'),
    }),
    req('GET /sms/history?cursor=garbage -> 400 errors.cursor', {
      path: '/sms/history?cursor=garbage',
      auth: 'customer',
      test: V('cursor'),
    }),
    req('GET /sms/history?colour=blue (unknown parameter) -> 400', {
      path: '/sms/history?colour=blue',
      auth: 'customer',
      test: P(400, 'bad-request'),
    }),
    req('GET /sms/history?user_id={{otherCustomerId}} (customer API key) -> 403', {
      path: '/sms/history?user_id={{otherCustomerId}}',
      auth: 'customer',
      test: P(403, 'forbidden'),
    }),
    req('GET /sms/history (no Authorization) -> 401', {
      path: '/sms/history',
      auth: 'none',
      test: P(401, 'unauthorized'),
    }),
    req('POST /sms/history -> 405', {
      method: 'POST',
      path: '/sms/history',
      auth: 'customer',
      test: P(405, 'method-not-allowed'),
    }),
    req('GET /balance?limit=100 -> ledger: one charge per request, balance = sum', {
      path: '/balance?limit=100',
      auth: 'customer',
      test: [
        S(200),
        J(),
        `const b = pm.response.json();`,
        `pm.test("balance as expected after every charge", () => pm.expect(b.balance).to.eql(Number(pm.collectionVariables.get("expectedBalance"))));`,
        `pm.test("balance = sum of the ledger, never negative", () => {`,
        `    pm.expect(b.next_cursor).to.be.null;`,
        `    pm.expect(b.balance).to.be.at.least(0);`,
        `    pm.expect(b.transactions.reduce((s, t) => s + t.amount, 0)).to.eql(b.balance);`,
        `});`,
        `pm.test("nothing failed, nothing refunded", () => pm.expect(b.transactions.filter((t) => t.transaction_type === "refund")).to.be.empty);`,
      ].join('\n'),
    }),
  ]
);

const dispatch = folder(
  'Admin: dispatch and operators',
  'GET /admin/operators, POST /admin/dispatch/pause and /resume: the switch and who may use it. What pausing does to messages is the "Dispatch pause" folder.',
  [
    req('GET /admin/operators -> 200 circuits and counters', {
      path: '/admin/operators',
      test: [
        S(200),
        J(),
        `const b = pm.response.json();`,
        `pm.test("dispatch is running", () => pm.expect(b.dispatch_paused).to.eql(false));`,
        `pm.test("each operator with its circuit state and counters", () => {`,
        `    pm.expect(b.operators).to.be.an("array").that.is.not.empty;`,
        `    for (const o of b.operators) {`,
        `        pm.expect(o.name).to.be.a("string");`,
        `        pm.expect(o.circuit).to.be.oneOf(["closed", "open", "half_open"]);`,
        `        for (const k of ["calls", "sent", "transient_failures", "permanent_failures", "rejected_by_circuit"]) {`,
        `            pm.expect(o[k], o.name + "." + k).to.be.a("number").and.at.least(0);`,
        `        }`,
        `    }`,
        `});`,
        `pm.test("knows the preferred operator, which sent something", () => {`,
        `    const op = b.operators.find((o) => o.name === pm.variables.get("dlrOperator"));`,
        `    pm.expect(op, "operator " + pm.variables.get("dlrOperator")).to.be.an("object");`,
        `    pm.expect(op.sent).to.be.at.least(1);`,
        `});`,
      ].join('\n'),
    }),
    req('POST /admin/dispatch/pause -> 200 paused', {
      method: 'POST',
      path: '/admin/dispatch/pause',
      test: [S(200), J(), `pm.test("paused", () => pm.expect(pm.response.json()).to.eql({ paused: true }));`].join('\n'),
    }),
    req('GET /admin/operators (paused) -> dispatch_paused true', {
      path: '/admin/operators',
      test: [S(200), J(), `pm.test("dispatch_paused", () => pm.expect(pm.response.json().dispatch_paused).to.eql(true));`].join('\n'),
    }),
    req('POST /admin/dispatch/resume -> 200 resumed', {
      method: 'POST',
      path: '/admin/dispatch/resume',
      test: [S(200), J(), `pm.test("resumed", () => pm.expect(pm.response.json()).to.eql({ paused: false }));`].join('\n'),
    }),
    req('GET /admin/operators (resumed) -> dispatch_paused false', {
      path: '/admin/operators',
      test: [S(200), J(), `pm.test("dispatch_paused", () => pm.expect(pm.response.json().dispatch_paused).to.eql(false));`].join('\n'),
    }),
    req('POST /admin/dispatch/pause (customer API key) -> 403', {
      method: 'POST',
      path: '/admin/dispatch/pause',
      auth: 'customer',
      test: P(403, 'forbidden'),
    }),
    req('POST /admin/dispatch/resume (customer API key) -> 403', {
      method: 'POST',
      path: '/admin/dispatch/resume',
      auth: 'customer',
      test: P(403, 'forbidden'),
    }),
    req('POST /admin/dispatch/pause (no Authorization) -> 401', {
      method: 'POST',
      path: '/admin/dispatch/pause',
      auth: 'none',
      test: P(401, 'unauthorized'),
    }),
    req('POST /admin/dispatch/resume (unknown token) -> 401', {
      method: 'POST',
      path: '/admin/dispatch/resume',
      auth: UNKNOWN_TOKEN,
      test: P(401, 'unauthorized'),
    }),
    req('GET /admin/dispatch/pause -> 405', {
      path: '/admin/dispatch/pause',
      test: P(405, 'method-not-allowed'),
    }),
    req('GET /admin/operators (customer API key) -> 403', {
      path: '/admin/operators',
      auth: 'customer',
      test: P(403, 'forbidden'),
    }),
    req('GET /admin/operators (no Authorization) -> 401', {
      path: '/admin/operators',
      auth: 'none',
      test: P(401, 'unauthorized'),
    }),
    req('POST /admin/operators -> 405', {
      method: 'POST',
      path: '/admin/operators',
      test: P(405, 'method-not-allowed'),
    }),
  ]
);

const pause = folder(
  'Dispatch pause',
  'Pausing a running gateway: messages accepted while paused (one per lane) stay PENDING, and are all delivered after resuming. docs/API.md and POST /admin/dispatch/pause: "workers take no new message until resumed (within ~250 ms on every worker process)". Resumes at the end even when a check fails.',
  [
    req('POST /admin/dispatch/pause (before sending) -> 200', {
      method: 'POST',
      path: '/admin/dispatch/pause',
      test: [S(200), J(), `pm.test("paused", () => pm.expect(pm.response.json()).to.eql({ paused: true }));`].join('\n'),
    }),
    req('POST /sms/send (normal, while paused) -> 202', {
      method: 'POST',
      path: '/sms/send',
      auth: 'customer',
      body: { text: 'Sent while paused', recipients: ['+989121234570'] },
      pre: `// Workers read the switch every 250 ms: give every one of them time to see it.\n${SLEEP(750)}`,
      test: SENT({ recipients: 1, segments: 1, encoding: 'GSM-7', type: 'normal', price: 'priceNormal', save: 'pausedSmsId' }),
    }),
    req('POST /sms/send (express, while paused) -> 202', {
      method: 'POST',
      path: '/sms/send',
      auth: 'customer',
      body: { text: 'Express while paused', recipients: ['+989121234571'], type: 'express' },
      test: SENT({ recipients: 1, segments: 1, encoding: 'GSM-7', type: 'express', price: 'priceExpress', save: 'pausedExpressSmsId' }),
    }),
    req('GET /sms/{{pausedSmsId}} (paused) -> still PENDING', {
      path: '/sms/{{pausedSmsId}}',
      auth: 'customer',
      pre: `// Long enough for a running gateway to send and deliver it.\n${SLEEP(1500)}`,
      test: [
        S(200),
        J(),
        `const b = pm.response.json();`,
        `pm.test("nothing sent while paused", () => pm.expect(b.counts).to.eql({ PENDING: 1 }));`,
      ].join('\n'),
    }),
    req('GET /sms/{{pausedExpressSmsId}} (paused) -> still PENDING', {
      path: '/sms/{{pausedExpressSmsId}}',
      auth: 'customer',
      test: [
        S(200),
        J(),
        `const b = pm.response.json();`,
        `pm.test("nothing sent while paused", () => pm.expect(b.counts).to.eql({ PENDING: 1 }));`,
      ].join('\n'),
    }),
    req('POST /admin/dispatch/resume (after the checks) -> 200', {
      method: 'POST',
      path: '/admin/dispatch/resume',
      test: [S(200), J(), `pm.test("resumed", () => pm.expect(pm.response.json()).to.eql({ paused: false }));`].join('\n'),
    }),
    req('GET /sms/{{pausedSmsId}} (poll until DELIVERED after resuming)', {
      path: '/sms/{{pausedSmsId}}',
      auth: 'customer',
      pre: POLL_PRE,
      test: POLL('DELIVERED after resuming', 'states.every((s) => s === "DELIVERED")', `pm.test("nothing lost", () => pm.expect(b.counts).to.eql({ DELIVERED: 1 }));`),
    }),
    req('GET /sms/{{pausedExpressSmsId}} (poll until DELIVERED after resuming)', {
      path: '/sms/{{pausedExpressSmsId}}',
      auth: 'customer',
      pre: POLL_PRE,
      test: POLL('DELIVERED after resuming', 'states.every((s) => s === "DELIVERED")', `pm.test("nothing lost", () => pm.expect(b.counts).to.eql({ DELIVERED: 1 }));`),
    }),
  ]
);

const pathParams = folder(
  'Path parameters',
  'A path parameter that is not of its type is a 400 problem document like every other error (docs/API.md: "Every error is application/problem+json").',
  [
    req('POST /admin/customers/not-a-number/api-key -> 400 problem', {
      method: 'POST',
      path: '/admin/customers/not-a-number/api-key',
      test: P(400, 'bad-request'),
    }),
    req('POST /admin/customers/99999999999999999999/api-key (out of range) -> 400 problem', {
      method: 'POST',
      path: '/admin/customers/99999999999999999999/api-key',
      test: P(400, 'bad-request'),
    }),
  ]
);

// Requests that need the operator's key are skipped when {{dlrOperatorKey}} is empty.
const NEEDS_KEY = dedent(`
  if (!pm.variables.get("dlrOperatorKey")) {
      console.log("skipped: set dlrOperatorKey to the key of operator " + pm.variables.get("dlrOperator") + " (scripts/postman.sh does)");
      pm.execution.skipRequest();
  }
`).join('\n');
const dlr = folder(
  'Delivery reports',
  'POST /dlr/{operator}. Authentication failures always run. The success path needs {{dlrOperatorKey}}, the key of operator {{dlrOperator}}, and that this operator does not post reports itself (so the message is still SENT): scripts/postman.sh starts such mock operators. The gateway\'s built-in mocks use a random key per start, so against them these requests are skipped.',
  [
    req('POST /dlr/{{dlrOperator}} (no Authorization) -> 401', {
      method: 'POST',
      path: '/dlr/{{dlrOperator}}',
      auth: 'none',
      body: { message_id: 'whatever', status: 'DELIVRD' },
      test: P(401, 'unauthorized'),
    }),
    req('POST /dlr/{{dlrOperator}} (wrong key) -> 401', {
      method: 'POST',
      path: '/dlr/{{dlrOperator}}',
      auth: 'wrong-operator-key-{{$guid}}',
      body: { message_id: 'whatever', status: 'DELIVRD' },
      test: P(401, 'unauthorized'),
    }),
    req('POST /dlr/{{dlrOperator}} (customer API key) -> 401', {
      method: 'POST',
      path: '/dlr/{{dlrOperator}}',
      auth: 'customer',
      body: { message_id: '{{providerMessageId}}', status: 'DELIVRD' },
      test: P(401, 'unauthorized'),
    }),
    req('POST /dlr/{{dlrOperator}} (wrong key, malformed body) -> 401 before parsing', {
      method: 'POST',
      path: '/dlr/{{dlrOperator}}',
      auth: 'wrong-operator-key-{{$guid}}',
      raw: '{"message_id": ',
      test: P(401, 'unauthorized'),
    }),
    req('POST /dlr/no-such-operator -> 404', {
      method: 'POST',
      path: '/dlr/no-such-operator',
      auth: 'some-key',
      body: { message_id: 'whatever', status: 'DELIVRD' },
      test: P(404, 'not-found'),
    }),
    req('GET /dlr/{{dlrOperator}} -> 405', {
      path: '/dlr/{{dlrOperator}}',
      auth: 'none',
      test: P(405, 'method-not-allowed'),
    }),
    req('POST /dlr/{{dlrOperator}} (ENROUTE, intermediate) -> 200 recorded', {
      method: 'POST',
      path: '/dlr/{{dlrOperator}}',
      auth: '{{dlrOperatorKey}}',
      body: { message_id: '{{providerMessageId}}', status: 'ENROUTE' },
      pre: NEEDS_KEY,
      test: [S(200), J(), `pm.test("recorded in the timeline only", () => pm.expect(pm.response.json()).to.eql({ result: "recorded" }));`].join('\n'),
    }),
    req('GET /sms/{{preferredSmsId}} (after ENROUTE) -> still SENT', {
      path: '/sms/{{preferredSmsId}}',
      auth: 'customer',
      pre: NEEDS_KEY,
      test: [
        S(200),
        J(),
        `const b = pm.response.json();`,
        `pm.test("SENT, ENROUTE in the timeline", () => {`,
        `    pm.expect(b.counts).to.eql({ SENT: 1 });`,
        `    pm.expect(b.messages[0].events.map((e) => e.status)).to.include("ENROUTE");`,
        `});`,
      ].join('\n'),
    }),
    req('POST /dlr/{{dlrOperator}} (DELIVRD) -> 200 applied', {
      method: 'POST',
      path: '/dlr/{{dlrOperator}}',
      auth: '{{dlrOperatorKey}}',
      body: { message_id: '{{providerMessageId}}', status: 'DELIVRD' },
      pre: NEEDS_KEY,
      test: [S(200), J(), `pm.test("applied: SENT -> DELIVERED", () => pm.expect(pm.response.json()).to.eql({ result: "applied" }));`].join('\n'),
    }),
    req('GET /sms/{{preferredSmsId}} (after DELIVRD) -> DELIVERED', {
      path: '/sms/{{preferredSmsId}}',
      auth: 'customer',
      pre: NEEDS_KEY,
      test: [
        S(200),
        J(),
        `const b = pm.response.json();`,
        `pm.test("DELIVERED", () => {`,
        `    pm.expect(b.counts).to.eql({ DELIVERED: 1 });`,
        `    const seen = b.messages[0].events.map((e) => e.status);`,
        `    pm.expect(seen).to.include.members(["PENDING", "SENT", "ENROUTE", "DELIVERED"]);`,
        `});`,
      ].join('\n'),
    }),
    req('POST /dlr/{{dlrOperator}} (same DELIVRD again) -> 200 recorded', {
      method: 'POST',
      path: '/dlr/{{dlrOperator}}',
      auth: '{{dlrOperatorKey}}',
      body: { message_id: '{{providerMessageId}}', status: 'DELIVRD' },
      pre: NEEDS_KEY,
      test: [S(200), J(), `pm.test("a duplicate is only recorded", () => pm.expect(pm.response.json()).to.eql({ result: "recorded" }));`].join('\n'),
    }),
    req('POST /dlr/{{dlrOperator}} (UNDELIV after DELIVERED) -> 200 recorded, state kept', {
      method: 'POST',
      path: '/dlr/{{dlrOperator}}',
      auth: '{{dlrOperatorKey}}',
      body: { message_id: '{{providerMessageId}}', status: 'UNDELIV' },
      pre: NEEDS_KEY,
      test: [S(200), J(), `pm.test("a state never moves backwards", () => pm.expect(pm.response.json()).to.eql({ result: "recorded" }));`].join('\n'),
    }),
    req('GET /sms/{{preferredSmsId}} (after the late UNDELIV) -> still DELIVERED', {
      path: '/sms/{{preferredSmsId}}',
      auth: 'customer',
      pre: NEEDS_KEY,
      test: [S(200), J(), `pm.test("still DELIVERED", () => pm.expect(pm.response.json().counts).to.eql({ DELIVERED: 1 }));`].join('\n'),
    }),
    req('POST /dlr/{{dlrOperator}} (unknown message_id) -> 404', {
      method: 'POST',
      path: '/dlr/{{dlrOperator}}',
      auth: '{{dlrOperatorKey}}',
      body: { message_id: 'no-such-message-{{$guid}}', status: 'DELIVRD' },
      pre: NEEDS_KEY,
      test: P(404, 'not-found'),
    }),
    req('POST /dlr/{{dlrOperator}} (empty message_id, bad status) -> 400 errors', {
      method: 'POST',
      path: '/dlr/{{dlrOperator}}',
      auth: '{{dlrOperatorKey}}',
      body: { message_id: '', status: 'not a status!' },
      pre: NEEDS_KEY,
      test: V('message_id', 'status'),
    }),
    req('POST /dlr/{{dlrOperator}} (malformed JSON) -> 400', {
      method: 'POST',
      path: '/dlr/{{dlrOperator}}',
      auth: '{{dlrOperatorKey}}',
      raw: '{"message_id": ',
      pre: NEEDS_KEY,
      test: P(400, 'bad-request'),
    }),
    req('POST /dlr/{{dlrOperator}} (text/plain) -> 415', {
      method: 'POST',
      path: '/dlr/{{dlrOperator}}',
      auth: '{{dlrOperatorKey}}',
      raw: 'message_id=x&status=DELIVRD',
      contentType: 'text/plain',
      pre: NEEDS_KEY,
      test: P(415, 'unsupported-media-type'),
    }),
  ]
);

const observability = folder(
  'Observability',
  'GET /metrics (Prometheus text with the smsgw_ metrics) and its entry in the OpenAPI document.',
  [
    req('GET /metrics -> 200 Prometheus text', {
      path: '/metrics',
      auth: 'none',
      test: [
        S(200),
        `pm.test("content-type is text/plain (Prometheus exposition format)", () => pm.expect(pm.response.headers.get("Content-Type")).to.match(/^text\\/plain/));`,
        `pm.test("has smsgw_ metrics", () => pm.expect(pm.response.text()).to.include("smsgw_"));`,
      ].join('\n'),
    }),
    req('GET /api-docs/openapi.json -> documents GET /metrics', {
      path: '/api-docs/openapi.json',
      auth: 'none',
      test: [
        S(200),
        J(),
        `pm.test("GET /metrics is documented", () => pm.expect(pm.response.json().paths["/metrics"]).to.have.property("get"));`,
      ].join('\n'),
    }),
  ]
);

// ---- collection --------------------------------------------------------------------------
const collection = {
  info: {
    _postman_id: idOf('sms-gateway collection'),
    name: 'sms-gateway',
    description: [
      'Every endpoint of the sms-gateway router, with its success and error paths (see docs/API.md and ../shared/API.md).',
      '',
      'Run it in order (Collection Runner or `make postman`): requests chain collection variables (customer ids, API keys, SMS identifiers, cursors). Set `baseUrl` and `adminToken` first; see postman/README.md.',
    ].join('\n'),
    schema: 'https://schema.getpostman.com/json/collection/v2.1.0/collection.json',
  },
  auth: { type: 'bearer', bearer: [{ key: 'token', value: '{{adminToken}}', type: 'string' }] },
  event: [
    {
      listen: 'test',
      script: {
        id: idOf('collection:test'),
        type: 'text/javascript',
        exec: dedent(`
          // Checks of every response.
          pm.test("[every response] has an X-Request-Id", () => pm.expect(pm.response.headers.get("X-Request-Id")).to.be.a("string").and.not.empty);
          if (pm.response.code >= 400) {
              pm.test("[every error] is application/problem+json with its status", () => {
                  pm.expect(pm.response.headers.get("Content-Type")).to.match(/^application\\/problem\\+json/);
                  pm.expect(pm.response.json().status).to.eql(pm.response.code);
              });
          }
        `),
      },
    },
  ],
  variable: [
    ['baseUrl', 'http://localhost:8080', 'The gateway (scripts/postman.sh passes its own with --env-var).'],
    ['adminToken', 'dev-admin-token-change-me', "The gateway's ADMIN_TOKEN (the default of .env.example)."],
    ['priceNormal', '1', 'PRICE_NORMAL of the gateway.'],
    ['priceExpress', '2', 'PRICE_EXPRESS of the gateway.'],
    ['dlrOperator', 'mock-b', 'Operator used for the operator preference and the delivery-report requests.'],
    ['dlrOperatorKey', '', "That operator's api_key; empty skips the delivery-report success path."],
    ['pollAttempts', '60', 'Polls of GET /sms/{id} before giving up.'],
    ['pollIntervalMs', '250', 'Pause between polls.'],
  ]
    .map(([key, value, description]) => ({ key, value, type: 'string', description }))
    .concat(
      [
        'runId', 'customerName', 'customerIdemKey', 'customerId', 'apiKey', 'expectedBalance', 'otherName',
        'otherCustomerId', 'otherApiKey', 'oldOtherApiKey', 'poorName', 'poorCustomerId', 'poorApiKey',
        'topupIdemKey', 'poorIdemKey', 'topupTransactionId', 'longDescription', 'balanceCursor', 'firstTransactionId',
        'sendIdemKey', 'smsId', 'expressSmsId', 'multiSmsId', 'ucs2SmsId', 'preferredSmsId', 'smsText',
        'hugeText', 'longIdemKey', 'providerMessageId', 'historyCursor', 'historyPage1', 'historyPage1Oldest',
        'historyFrom', 'historyTo', 'historyFuture', 'pausedSmsId', 'pausedExpressSmsId', 'pollN',
      ].map((key) => ({ key, value: '', type: 'string' }))
    ),
  item: [operations, customers, balance, send, history, dispatch, pause, dlr, pathParams, observability],
};

fs.writeFileSync(OUT, JSON.stringify(collection, null, 2) + '\n');
console.log(`wrote ${OUT}: ${names.size} requests`);
