// The customer's account: its sender ids (GET /senders), a new API key (POST /api-key; the
// old key stops working at once, this session goes on), and the CSV export.

import { useState } from '../../vendor/hooks.mjs';
import { api } from '../api.js';
import { when } from '../format.js';
import { ProblemBox, html, useLoad, useTitle } from '../ui.js';

export function Account({ session }) {
  useTitle('Account');
  const senders = useLoad(() => api('GET', '/senders'), []);
  const [newKey, setNewKey] = useState(null);
  const [error, setError] = useState(null);
  const [confirming, setConfirming] = useState(false);
  const rotate = async () => {
    setError(null);
    try {
      const r = await api('POST', '/api-key');
      setNewKey(r.api_key);
      setConfirming(false);
    } catch (e) {
      setError(e);
    }
  };
  const list = senders.data ? senders.data.senders : [];
  return html`<section>
    <h1>Account</h1>
    <div class="card">
      <h2>Customer</h2>
      <p>${session.name} · id ${session.customer_id} · key starting <code>${session.api_key_hint}</code></p>
    </div>
    <div class="card">
      <h2>Sender ids</h2>
      <${ProblemBox} error=${senders.error} />
      ${list.length === 0 ? html`<p class="muted">No sender ids yet; the admin adds them.</p>` : html`<ul>
        ${list.map((s) => html`<li>${s.sender}${s.default ? ' (default)' : ''} <span class="muted">since ${when(s.created_at)}</span></li>`)}
      </ul>`}
    </div>
    <div class="card">
      <h2>API key</h2>
      <p>A new key replaces the current one at once: programs still using the old key get 401 from then on. This console session goes on.</p>
      ${!confirming && html`<button type="button" onClick=${() => setConfirming(true)}>Rotate the API key…</button>`}
      ${confirming && html`<p role="alert">Replace the key now?
        <button type="button" class="danger" onClick=${rotate}>Yes, rotate it</button>
        <button type="button" onClick=${() => setConfirming(false)}>Keep the current key</button></p>`}
      <${ProblemBox} error=${error} />
      ${newKey && html`<div class="secret">
        <label for="new-key">Your new API key, shown this once:</label>
        <input id="new-key" readonly value=${newKey} data-testid="new-key" onFocus=${(e) => e.target.select()} />
      </div>`}
    </div>
    <div class="card">
      <h2>Export</h2>
      <p><a class="button" href="/sms/history.csv" download>Download the whole history as CSV</a> (filtered exports: the History page).</p>
    </div>
  </section>`;
}
