// Helpers of the walkthrough's scripts (postman/walkthrough.js). Postman scripts cannot import
// code, so postman/build.js copies each helper (and constant) into every script that calls it.
'use strict';

const helpers = {
  json(status) {
    pm.test(`status is ${status}`, () => pm.response.to.have.status(status));
    pm.test('content-type is application/json', () =>
      pm.expect(pm.response.headers.get('Content-Type')).to.match(/^application\/json/));
    return pm.response.json();
  },
  problem(status, type) {
    pm.test(`status is ${status}`, () => pm.response.to.have.status(status));
    const p = pm.response.json();
    pm.test(`problem ${type}`, () => {
      pm.expect(p.type).to.eql(`/problems/${type}`);
      pm.expect(p.status).to.eql(status);
      pm.expect(p.title).to.be.a('string').and.not.empty;
      pm.expect(p.detail).to.be.a('string').and.not.empty;
    });
    if (status === 401) {
      pm.test('WWW-Authenticate: Bearer', () =>
        pm.expect(pm.response.headers.get('WWW-Authenticate')).to.match(/^Bearer/));
    }
    return p;
  },
  unique(prefix) {
    return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  },
  // Repeats this request (delivery is asynchronous) until done(body), at most pollAttempts
  // times pollIntervalMs apart (the wait is pollWait() in the pre-request script); then
  // returns the body, or null while it is still repeating.
  poll(done) {
    const b = pm.response.code === 200 ? pm.response.json() : {};
    const n = Number(pm.collectionVariables.get('pollN') || 0) + 1;
    const max = Number(pm.variables.get('pollAttempts') || 60);
    if (!done(b) && pm.response.code === 200 && n < max) {
      pm.collectionVariables.set('pollN', n);
      pm.execution.setNextRequest(pm.info.requestName);
      return null;
    }
    pm.collectionVariables.unset('pollN');
    pm.test(`done within ${max} polls (took ${n}): ${JSON.stringify(b.counts)}`, () =>
      pm.expect(done(b)).to.be.true);
    return b;
  },
  pollWait() {
    if (Number(pm.collectionVariables.get('pollN') || 0) > 0) {
      setTimeout(() => {}, Number(pm.variables.get('pollIntervalMs') || 250));
    }
  },
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

module.exports = { helpers, constants: { UUID } };
