// The admin's customers: search and page through them, create one (its key is shown once),
// and on a customer's page (GET /admin/customers/{id}: its name and settings at a glance):
// top up, limits and weight, sender ids, a link to its callbacks, a new key, its sessions.

import { useState } from '../../vendor/hooks.mjs';
import { api, query } from '../api.js';
import { newIdempotencyKey, num, when } from '../format.js';
import { Action, Field, ProblemBox, html, useLoad, useTitle } from '../ui.js';

function CreateCustomer({ onCreated }) {
  const [form, setForm] = useState({ name: '', balance: '0' });
  const [error, setError] = useState(null);
  const [created, setCreated] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const c = await api('POST', '/admin/customers', { name: form.name, balance: Number(form.balance || 0) }, { idempotencyKey: newIdempotencyKey() });
      setCreated(c);
      setForm({ name: '', balance: '0' });
      onCreated();
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="card stack" onSubmit=${submit} aria-labelledby="create-title">
    <h2 id="create-title">New customer</h2>
    <div class="row">
      <${Field} id="c-name" label="Name"><input id="c-name" required maxlength="100" value=${form.name} onInput=${(e) => setForm({ ...form, name: e.target.value })} /><//>
      <${Field} id="c-balance" label="Initial balance (credits)"><input id="c-balance" type="number" min="0" value=${form.balance} onInput=${(e) => setForm({ ...form, balance: e.target.value })} /><//>
    </div>
    <${ProblemBox} error=${error} />
    <button type="submit" class="primary">Create customer</button>
    ${created && html`<div class="secret" role="status">
      <p>Created <a href=${`#/customers/${created.customer_id}`}>${created.name}</a> (#${created.customer_id}). Its API key, shown this once:</p>
      <input readonly aria-label="New customer's API key" value=${created.api_key} data-testid="created-key" onFocus=${(e) => e.target.select()} />
    </div>`}
  </form>`;
}

export function Customers({ params }) {
  useTitle('Customers');
  const search = params.get('search') || '';
  const cursor = params.get('cursor') || '';
  const [term, setTerm] = useState(search);
  const list = useLoad(() => api('GET', `/admin/customers${query({ search, cursor })}`), [search, cursor]);
  const go = (s, c) => {
    location.hash = `#/customers${query({ search: s, cursor: c })}`;
  };
  const items = list.data ? list.data.items : [];
  return html`<section>
    <h1>Customers</h1>
    <${CreateCustomer} onCreated=${list.reload} />
    <form class="filters" role="search" onSubmit=${(e) => { e.preventDefault(); go(term, ''); }}>
      <${Field} id="c-search" label="Search by name"><input id="c-search" type="search" value=${term} onInput=${(e) => setTerm(e.target.value)} /><//>
      <div class="buttons"><button type="submit">Search</button></div>
    </form>
    <${ProblemBox} error=${list.error} />
    <div class="table-wrap"><table>
      <caption class="sr-only">Customers, newest first</caption>
      <thead><tr><th scope="col">Id</th><th scope="col">Name</th><th scope="col">Balance</th><th scope="col">Weight</th><th scope="col">Key</th><th scope="col">Created</th></tr></thead>
      <tbody>${items.map((c) => html`<tr data-testid="customer-row">
        <td>${c.customer_id}</td><td><a href=${`#/customers/${c.customer_id}`}>${c.name}</a></td>
        <td>${num(c.balance)}</td><td>${c.weight}</td><td><code>${c.api_key_hint}…</code></td><td>${when(c.created_at)}</td>
      </tr>`)}</tbody>
    </table></div>
    <div class="pager">
      ${cursor && html`<button type="button" onClick=${() => go(search, '')}>First page</button>`}
      ${list.data && list.data.next_cursor && html`<button type="button" onClick=${() => go(search, list.data.next_cursor)}>Next page</button>`}
    </div>
  </section>`;
}

function TopUp({ id, onDone }) {
  const [form, setForm] = useState({ amount: '', description: '' });
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const body = { user_id: id, balance: Number(form.amount) };
      if (form.description.trim()) body.description = form.description.trim();
      await api('POST', '/balance/add', body, { idempotencyKey: newIdempotencyKey() });
      setForm({ amount: '', description: '' });
      onDone();
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="stack" onSubmit=${submit} aria-label="Top up">
    <div class="row">
      <${Field} id="t-amount" label="Credits to add"><input id="t-amount" type="number" min="1" required value=${form.amount} onInput=${(e) => setForm({ ...form, amount: e.target.value })} /><//>
      <${Field} id="t-desc" label="Description (optional)"><input id="t-desc" value=${form.description} onInput=${(e) => setForm({ ...form, description: e.target.value })} /><//>
    </div>
    <${ProblemBox} error=${error} />
    <button type="submit" class="primary">Top up</button>
  </form>`;
}

function Limits({ id, onSaved }) {
  const limits = useLoad(() => api('GET', `/admin/customers/${id}/limits`), [id]);
  const [form, setForm] = useState(null);
  const [error, setError] = useState(null);
  const [saved, setSaved] = useState(false);
  const l = limits.data;
  const f = form || (l && { weight: String(l.weight), req: l.max_requests_per_sec ?? '', rcp: l.max_recipients_per_sec ?? '' });
  if (!f) return html`<${ProblemBox} error=${limits.error} />`;
  const opt = (v) => (String(v).trim() === '' ? null : Number(v));
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    setSaved(false);
    try {
      await api('PUT', `/admin/customers/${id}/limits`, { weight: Number(f.weight), max_requests_per_sec: opt(f.req), max_recipients_per_sec: opt(f.rcp) });
      setSaved(true);
      setForm(null);
      limits.reload();
      if (onSaved) onSaved();
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="stack" onSubmit=${submit} aria-label="Limits">
    <div class="row">
      <${Field} id="l-weight" label="Weight"><input id="l-weight" type="number" min="1" max="10000" value=${f.weight} onInput=${(e) => setForm({ ...f, weight: e.target.value })} /><//>
      <${Field} id="l-req" label="Requests per second (empty: default)"><input id="l-req" type="number" min="0" value=${f.req} onInput=${(e) => setForm({ ...f, req: e.target.value })} /><//>
      <${Field} id="l-rcp" label="Recipients per second (empty: default)"><input id="l-rcp" type="number" min="0" value=${f.rcp} onInput=${(e) => setForm({ ...f, rcp: e.target.value })} /><//>
    </div>
    ${l && html`<p class="muted">In force: ${l.requests_per_sec || 'unlimited'} requests/s, ${l.recipients_per_sec || 'unlimited'} recipients/s.</p>`}
    <${ProblemBox} error=${error} />
    ${saved && html`<p role="status">Saved.</p>`}
    <button type="submit">Save limits</button>
  </form>`;
}

function Senders({ id, onChanged }) {
  const senders = useLoad(() => api('GET', `/admin/customers/${id}/senders`), [id]);
  const [name, setName] = useState('');
  const [error, setError] = useState(null);
  const act = async (method, path, body) => {
    setError(null);
    try {
      await api(method, path, body);
      senders.reload();
      if (onChanged) onChanged();
    } catch (err) {
      setError(err);
    }
  };
  const list = senders.data ? senders.data.senders : [];
  const path = (s) => `/admin/customers/${id}/senders/${encodeURIComponent(s)}`;
  return html`<div class="stack">
    <ul class="plain">${list.map((s) => html`<li>
      <strong>${s.sender}</strong>${s.default ? ' (default)' : ''}
      ${!s.default && html`<${Action} onRun=${() => act('PUT', `${path(s.sender)}/default`)}>Make default<//>`}
      <${Action} kind="danger" onRun=${() => act('DELETE', path(s.sender))}>Remove<//>
    </li>`)}</ul>
    <form class="row" onSubmit=${(e) => { e.preventDefault(); act('POST', `/admin/customers/${id}/senders`, { sender: name, default: list.length === 0 }).then(() => setName('')); }}>
      <${Field} id="s-new" label="New sender id"><input id="s-new" required maxlength="16" value=${name} onInput=${(e) => setName(e.target.value)} /><//>
      <div class="buttons"><button type="submit">Add sender id</button></div>
    </form>
    <${ProblemBox} error=${error || senders.error} />
  </div>`;
}

/** What GET /admin/customers/{id} says of the customer, above its forms. */
function Summary({ c }) {
  return html`<dl class="facts" data-testid="customer-facts">
    <dt>Id</dt><dd>${c.customer_id}</dd>
    <dt>Created</dt><dd>${when(c.created_at)}</dd>
    <dt>Key</dt><dd><code>${c.api_key_hint}…</code></dd>
    <dt>Weight</dt><dd>${c.weight}</dd>
    <dt>Rate limits in force</dt><dd>${c.requests_per_sec || 'unlimited'} requests/s, ${c.recipients_per_sec || 'unlimited'} recipients/s</dd>
    <dt>Sender ids</dt><dd>${c.senders}${c.default_sender ? ` (default ${c.default_sender})` : ''}</dd>
    <dt>Webhook</dt><dd>${c.callback_url ? html`<code class="id">${c.callback_url}</code>` : 'none'}</dd>
    <dt>Console sessions</dt><dd data-testid="customer-sessions">${c.console_sessions}</dd>
  </dl>`;
}

export function CustomerPage({ id }) {
  const customer = useLoad(() => api('GET', `/admin/customers/${id}`), [id]);
  const c = customer.data;
  useTitle(c ? c.name : `Customer ${id}`);
  const balance = useLoad(() => api('GET', `/balance${query({ user_id: id, limit: 5 })}`), [id]);
  const [key, setKey] = useState(null);
  const [error, setError] = useState(null);
  const [revoked, setRevoked] = useState(null);
  const revoke = async () => {
    setError(null);
    try {
      setRevoked((await api('DELETE', `/admin/customers/${id}/sessions`)).revoked);
      customer.reload();
    } catch (e) {
      setError(e);
    }
  };
  const rotate = async () => {
    setError(null);
    try {
      setKey((await api('POST', `/admin/customers/${id}/api-key`, {})).api_key);
      customer.reload();
    } catch (e) {
      setError(e);
    }
  };
  const b = balance.data;
  return html`<section>
    <p><a href="#/customers">← Customers</a></p>
    <h1 data-testid="customer-name">${c ? c.name : `Customer #${id}`}</h1>
    <${ProblemBox} error=${customer.error} />
    ${c && html`<div class="card"><${Summary} c=${c} /></div>`}
    <${ProblemBox} error=${balance.error} />
    <div class="card">
      <h2>Balance: <span data-testid="customer-balance">${b ? num(b.balance) : '…'}</span> credits</h2>
      <${TopUp} id=${id} onDone=${balance.reload} />
      ${b && b.transactions.length > 0 && html`<h3>Latest ledger entries</h3><ul class="plain">
        ${b.transactions.map((t) => html`<li>${when(t.created_at)} · ${t.transaction_type} · ${num(t.amount)}${t.description ? ` · ${t.description}` : ''}</li>`)}
      </ul>`}
    </div>
    <div class="card"><h2>Limits and weight</h2><${Limits} id=${id} onSaved=${customer.reload} /></div>
    <div class="card"><h2>Sender ids</h2><${Senders} id=${id} onChanged=${customer.reload} /></div>
    <div class="card">
      <h2>Callbacks</h2>
      <p><a href=${`#/customers/${id}/callbacks`}>Its webhook, recent callback POSTs and parked events (replay)</a></p>
      ${c && html`<p data-testid="customer-parked" class=${c.parked_callbacks > 0 ? 'problem' : 'muted'}>${c.parked_callbacks > 0
        ? `${num(c.parked_callbacks)}${c.parked_callbacks >= 10000 ? '+' : ''} parked event(s) wait for a replay.`
        : 'No parked events.'}</p>`}
    </div>
    <div class="card">
      <h2>API key</h2>
      <p>A new key ends the old one, and the customer's console sessions, at once.</p>
      <${Action} kind="danger" onRun=${rotate}>Rotate the key<//>
      <p>Or end its console sessions only; the key keeps working.</p>
      <${Action} onRun=${revoke}>End its console sessions<//>
      ${revoked !== null && html`<p role="status">${revoked} session(s) ended.</p>`}
      <${ProblemBox} error=${error} />
      ${key && html`<div class="secret"><label for="rotated-key">New key, shown this once:</label><input id="rotated-key" readonly value=${key} /></div>`}
    </div>
  </section>`;
}
