#!/usr/bin/env node
// Builds postman/sms-gateway.postman_collection.json from the gateway's OpenAPI document
// (tests/snapshots/openapi.snap.json, byte-identical to GET /api-docs/openapi.json):
//
//   "Walkthrough"  the hand-written flow of postman/walkthrough.js
//   "OpenAPI"      one request per operation, converted by openapi-to-postmanv2 (folders by
//                  tag, example values); each checks that its status is one the document
//                  lists for the operation and that a JSON body matches the documented schema
//
// and a collection-level test for every request: no 5xx, and every 4xx is
// application/problem+json.
//
//   node postman/build.js           writes the collection
//   node postman/build.js --check   exits 1 if the committed collection is not what it builds
'use strict';
// The converter fakes values missing from the document with Math.random: seeding it before
// it loads (and hashing ids) makes the output a function of the document, so --check can diff.
let seed = 42;
Math.random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
// It fakes date-time values from the clock too: a fixed clock for this process.
const RealDate = Date;
const FIXED_NOW = RealDate.parse('2026-01-01T00:00:00Z');
global.Date = class extends RealDate {
  constructor(...args) {
    super(...(args.length ? args : [FIXED_NOW]));
  }
  static now() {
    return FIXED_NOW;
  }
};
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const converter = require('openapi-to-postmanv2');
const walkthrough = require('./walkthrough');
const { helpers, constants } = require('./helpers');

const ROOT = path.join(__dirname, '..');
const SPEC = path.join(ROOT, 'tests/snapshots/openapi.snap.json');
const OUT = path.join(__dirname, 'sms-gateway.postman_collection.json');
const TOKENS = { admin_token: '{{adminToken}}', api_key: '{{apiKey}}', operator_key: '{{dlrOperatorKey}}' };

const id = (s) => {
  const h = crypto.createHash('sha1').update(s).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
};
const bearer = (token) => ({ type: 'bearer', bearer: [{ key: 'token', value: token, type: 'string' }] });
const script = (name, listen, lines) => ({ listen, script: { id: id(`${name}:${listen}`), type: 'text/javascript', exec: lines } });
const body = (fn) => {
  const src = fn.toString();
  const lines = src.slice(src.indexOf('{') + 1, src.lastIndexOf('}')).split('\n').slice(1, -1);
  const indent = Math.min(...lines.filter((l) => l.trim()).map((l) => l.match(/^ */)[0].length));
  return lines.map((l) => l.slice(indent));
};

// A schema with every $ref of the document replaced by what it names (the sandbox's
// jsonSchema check gets no components); formats are dropped, as its validator knows few.
function inline(schema, spec) {
  if (Array.isArray(schema)) return schema.map((s) => inline(s, spec));
  if (!schema || typeof schema !== 'object') return schema;
  if (schema.$ref) return inline(schema.$ref.split('/').slice(1).reduce((o, k) => o[k], spec), spec);
  const out = {};
  for (const [k, v] of Object.entries(schema)) if (k !== 'format' && k !== 'example') out[k] = inline(v, spec);
  return out;
}

function operationTests(op, spec) {
  const documented = {};
  for (const [status, r] of Object.entries(op.responses)) {
    const media = Object.entries(r.content || {}).find(([type]) => type.endsWith('json'));
    documented[status] = media && media[1].schema ? inline(media[1].schema, spec) : null;
  }
  return [
    `const documented = ${JSON.stringify(documented)};`,
    'pm.test(`status ${pm.response.code} is documented (${Object.keys(documented)})`, () =>',
    '    pm.expect(documented).to.have.property(String(pm.response.code)));',
    'const schema = documented[pm.response.code];',
    'if (schema) pm.test("body matches the documented schema", () => pm.response.to.have.jsonSchema(schema));',
  ];
}

// Gives each converted request its stable id, the token its operation's security names, and
// its operation's tests.
function finish(items, spec) {
  for (const item of items) {
    if (item.item) {
      item.id = id(`folder:${item.name}`);
      finish(item.item, spec);
      continue;
    }
    const route = '/' + item.request.url.path.map((p) => p.replace(/^:(.*)/, '{$1}')).join('/');
    const op = spec.paths[route][item.request.method.toLowerCase()];
    const scheme = Object.keys((op.security || [{}])[0])[0];
    item.id = id(op.operationId);
    item.name = `${item.request.method} ${route}`;
    item.request.auth = scheme ? bearer(TOKENS[scheme]) : { type: 'noauth' };
    item.event = [script(op.operationId, 'test', operationTests(op, spec))];
    delete item.response; // faked examples: the document is the reference
  }
  return items;
}

// A walkthrough entry as a Postman request, with the helpers its scripts call.
function request(w) {
  const calls = (fn, name) => new RegExp(`\\b${name}\\b`).test(fn.toString());
  const used = (fn) => [
    ...Object.entries(constants).filter(([k]) => calls(fn, k)).map(([k, v]) => `const ${k} = ${v};`),
    ...Object.entries(helpers)
      .filter(([name]) => calls(fn, name))
      .flatMap(([, f]) => `function ${f.toString()}`.split('\n').map((l, i) => (i ? l.slice(2) : l))),
  ];
  const [route, query] = w.path.split('?');
  const request = {
    method: w.method || 'GET',
    header: Object.entries(w.headers || {}).map(([key, value]) => ({ key, value })),
    url: {
      raw: `{{baseUrl}}${w.path}`,
      host: ['{{baseUrl}}'],
      path: route.split('/').filter(Boolean),
      query: query ? query.split('&').map((kv) => ({ key: kv.split('=')[0], value: kv.split('=')[1] })) : undefined,
    },
  };
  if (w.auth) request.auth = w.auth === 'none' ? { type: 'noauth' } : bearer(w.auth);
  if (w.body) {
    request.header.push({ key: 'Content-Type', value: 'application/json' });
    const raw = JSON.stringify(w.body, null, 2).replace(/"(\{\{\w*CustomerId\}\}|\{\{customerId\}\})"/g, '$1');
    request.body = { mode: 'raw', raw, options: { raw: { language: 'json' } } };
  }
  const event = [];
  if (w.pre) event.push(script(w.name, 'prerequest', [...used(w.pre), ...body(w.pre)]));
  event.push(script(w.name, 'test', [...used(w.test), ...body(w.test)]));
  return { id: id(w.name), name: w.name, event, request };
}

const collectionTest = [
  'pm.test("no 5xx", () => pm.expect(pm.response.code).to.be.below(500));',
  'if (pm.response.code >= 400) {',
  '    pm.test("a 4xx is application/problem+json", () =>',
  '        pm.expect(pm.response.headers.get("Content-Type")).to.match(/^application\\/problem\\+json/));',
  '}',
];

function build(callback) {
  const text = fs.readFileSync(SPEC, 'utf8');
  const spec = JSON.parse(text);
  const options = { folderStrategy: 'Tags', requestParametersResolution: 'Example', enableOptionalParameters: false };
  converter.convert({ type: 'string', data: text }, options, (err, res) => {
    if (err || !res.result) throw err || new Error(res.reason);
    const vars = {
      baseUrl: 'http://localhost:8080', adminToken: 'dev-admin-token-change-me', apiKey: '',
      dlrOperator: 'mock-b', dlrOperatorKey: '', priceNormal: '1', priceExpress: '2',
      pollAttempts: '60', pollIntervalMs: '250',
    };
    callback({
      info: {
        _postman_id: id('sms-gateway'),
        name: 'sms-gateway',
        description: `${spec.info.title} ${spec.info.version}. Built by postman/build.js from the OpenAPI document and postman/walkthrough.js: do not edit by hand (postman/README.md).`,
        schema: 'https://schema.getpostman.com/json/collection/v2.1.0/collection.json',
      },
      item: [
        { id: id('folder:Walkthrough'), name: 'Walkthrough', description: 'One customer, top-up to delivery report, in order.', item: walkthrough.items.map(request) },
        { id: id('folder:OpenAPI'), name: 'OpenAPI', description: 'Every operation of the OpenAPI document with its example values.', item: finish(res.output[0].data.item, spec) },
      ],
      auth: bearer('{{adminToken}}'),
      event: [script('collection', 'test', collectionTest)],
      variable: Object.entries(vars).map(([key, value]) => ({ key, value, type: 'string' })),
    });
  });
}

build((collection) => {
  const json = JSON.stringify(collection, null, 2) + '\n';
  if (process.argv[2] !== '--check') {
    fs.writeFileSync(OUT, json);
    console.log(`postman: wrote ${path.relative(ROOT, OUT)}`);
  } else if (!fs.existsSync(OUT) || fs.readFileSync(OUT, 'utf8') !== json) {
    console.error(`postman: ${path.relative(ROOT, OUT)} is not what postman/build.js builds from ` +
      'tests/snapshots/openapi.snap.json and postman/{walkthrough,helpers}.js: run `node postman/build.js`, commit it');
    process.exit(1);
  }
});
