// The history: every filter of GET /sms/history, kept in the URL (so a view can be reloaded
// or shared), cursor paging, and the same filters as a CSV download (/sms/history.csv).

import { useState } from '../../vendor/hooks.mjs';
import { api, query } from '../api.js';
import { statusClass, when } from '../format.js';
import { Field, ProblemBox, html, useLoad, useTitle } from '../ui.js';

const STATUSES = ['', 'PENDING', 'SENDING', 'SENT', 'DELIVERED', 'UNDELIVERED', 'FAILED', 'CANCELLED'];
const FILTERS = ['status', 'type', 'sms_identifier', 'recipient', 'reference', 'from', 'to', 'limit'];

/** datetime-local value (local time) to RFC 3339, or '' */
function rfc3339(local) {
  return local ? new Date(local).toISOString() : '';
}

export function History({ params }) {
  useTitle('History');
  const initial = Object.fromEntries(FILTERS.map((f) => [f, params.get(f) || '']));
  const [form, setForm] = useState(initial);
  const cursor = params.get('cursor') || '';
  const filters = { ...initial, from: rfc3339(initial.from), to: rfc3339(initial.to) };
  const page = useLoad(() => api('GET', `/sms/history${query({ ...filters, cursor })}`), [params.toString()]);
  const set = (k) => (e) => setForm({ ...form, [k]: e.target.value });
  const go = (values, next) => {
    location.hash = `#/history${query({ ...values, cursor: next })}`;
  };
  const apply = (e) => {
    e.preventDefault();
    go(form, '');
  };
  const csv = `/sms/history.csv${query({ ...filters, limit: '' })}`;
  const items = page.data ? page.data.items : [];
  return html`<section>
    <h1>History</h1>
    <form class="filters" onSubmit=${apply} aria-label="Filters">
      <${Field} id="h-status" label="Status">
        <select id="h-status" value=${form.status} onChange=${set('status')}>
          ${STATUSES.map((s) => html`<option value=${s}>${s || 'any'}</option>`)}
        </select>
      <//>
      <${Field} id="h-type" label="Lane">
        <select id="h-type" value=${form.type} onChange=${set('type')}>
          <option value="">any</option><option value="normal">normal</option><option value="express">express</option>
        </select>
      <//>
      <${Field} id="h-recipient" label="Recipient"><input id="h-recipient" value=${form.recipient} onInput=${set('recipient')} /><//>
      <${Field} id="h-reference" label="Reference"><input id="h-reference" value=${form.reference} onInput=${set('reference')} /><//>
      <${Field} id="h-sms" label="Request id"><input id="h-sms" value=${form.sms_identifier} onInput=${set('sms_identifier')} /><//>
      <${Field} id="h-from" label="Created from"><input id="h-from" type="datetime-local" value=${form.from} onInput=${set('from')} /><//>
      <${Field} id="h-to" label="Created before"><input id="h-to" type="datetime-local" value=${form.to} onInput=${set('to')} /><//>
      <${Field} id="h-limit" label="Per page"><input id="h-limit" type="number" min="1" max="100" value=${form.limit} onInput=${set('limit')} /><//>
      <div class="buttons">
        <button type="submit" class="primary">Apply filters</button>
        <button type="button" onClick=${() => go({}, '')}>Clear</button>
        <a class="button" href=${csv} download>Export CSV</a>
      </div>
    </form>
    <${ProblemBox} error=${page.error} />
    <div class="table-wrap">
      <table>
        <caption class="sr-only">Recipients, newest first</caption>
        <thead><tr><th scope="col">Created</th><th scope="col">Recipient</th><th scope="col">Status</th><th scope="col">Lane</th><th scope="col">Segments</th><th scope="col">Reference</th><th scope="col">Request</th></tr></thead>
        <tbody>
          ${items.map((r) => html`<tr data-testid="history-row">
            <td>${when(r.created_at)}</td>
            <td>${r.recipient}</td>
            <td><span class=${statusClass(r.status)}>${r.status}</span></td>
            <td>${r.type}</td>
            <td>${r.segments}</td>
            <td>${r.reference || ''}</td>
            <td><a href=${`#/sms/${encodeURIComponent(r.sms_identifier)}`}>${r.sms_identifier.slice(0, 8)}…</a></td>
          </tr>`)}
        </tbody>
      </table>
    </div>
    ${page.data && items.length === 0 && html`<p class="muted">Nothing matches these filters.</p>`}
    <div class="pager">
      ${cursor && html`<button type="button" onClick=${() => go(initial, '')}>First page</button>`}
      ${page.data && page.data.next_cursor && html`<button type="button" onClick=${() => go(initial, page.data.next_cursor)}>Next page</button>`}
    </div>
  </section>`;
}
