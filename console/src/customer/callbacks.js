// The customer's delivery-status callbacks: its webhook URL (GET/PUT /callbacks/settings),
// a new signing secret (POST /callbacks/settings/rotate-secret; shown once, the previous one
// signs too for a grace period), the recent POSTs and the parked events with their replay.

import { useState } from '../../vendor/hooks.mjs';
import { api } from '../api.js';
import { when } from '../format.js';
import { Deliveries, Parked } from '../callbacks.js';
import { Field, ProblemBox, html, useLoad, useTitle } from '../ui.js';

/** The secret a write just made, shown this once. */
function NewSecret({ secret, settings }) {
  if (!secret) return null;
  return html`<div class="secret" role="status">
    <label for="new-secret">Your new signing secret, shown this once:</label>
    <input id="new-secret" readonly value=${secret} data-testid="new-secret" onFocus=${(e) => e.target.select()} />
    ${settings.previous_secret_expires_at
      ? html`<p data-testid="grace-note">The previous secret keeps signing too (a second <code>v1</code> in <code>X-Signature</code>) until ${when(settings.previous_secret_expires_at)}: switch your receiver before then.</p>`
      : html`<p>Every POST carries <code>X-Signature</code> made with it; check it in your receiver (docs/API.md, "Delivery-status callbacks").</p>`}
  </div>`;
}

function Settings() {
  const settings = useLoad(() => api('GET', '/callbacks/settings'), []);
  const [url, setUrl] = useState(null);
  const [error, setError] = useState(null);
  const [saved, setSaved] = useState(null);
  const [secret, setSecret] = useState(null);
  const [confirming, setConfirming] = useState(false);
  const s = saved || settings.data;
  const value = url ?? (s ? s.url || '' : '');
  const save = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const trimmed = value.trim();
      const r = await api('PUT', '/callbacks/settings', { url: trimmed === '' ? null : trimmed });
      // The first URL creates the secret: the receiver needs it.
      setSecret(!s.secret && r.secret ? r.secret : null);
      setSaved(r);
      setUrl(null);
    } catch (err) {
      setError(err);
    }
  };
  const rotate = async () => {
    setError(null);
    setConfirming(false);
    try {
      const r = await api('POST', '/callbacks/settings/rotate-secret');
      setSecret(r.secret);
      setSaved(r);
    } catch (err) {
      setError(err);
    }
  };
  if (!s) return html`<${ProblemBox} error=${settings.error} />`;
  return html`<section class="card" aria-labelledby="webhook-title">
    <h2 id="webhook-title">Webhook</h2>
    <form class="stack" onSubmit=${save}>
      <${Field} id="cb-url" label="Webhook URL"
        hint="Every SENT, DELIVERED, UNDELIVERED, FAILED and CANCELLED of your recipients is POSTed here (a request's own callback_url takes precedence). Empty: no callbacks.">
        <input id="cb-url" type="url" inputmode="url" maxlength="2048" placeholder="https://hooks.example.com/sms-status"
          aria-describedby="cb-url-hint" value=${value} onInput=${(e) => setUrl(e.target.value)} />
      <//>
      <button type="submit" class="primary">Save the URL</button>
    </form>
    <p data-testid="webhook-state">${s.url ? html`Callbacks go to <code class="id" data-testid="saved-url">${s.url}</code>.` : 'Callbacks are off.'}</p>
    <h3>Signing secret</h3>
    ${s.secret
      ? html`<p>A secret signs every POST${s.previous_secret_expires_at ? html`; the previous one too until ${when(s.previous_secret_expires_at)}` : ''}. A new one replaces it; the current one keeps signing for a grace period.</p>
        ${!confirming && html`<button type="button" onClick=${() => setConfirming(true)}>Rotate the signing secret…</button>`}
        ${confirming && html`<p role="alert">Make a new secret now?
          <button type="button" class="danger" onClick=${rotate}>Yes, rotate it</button>
          <button type="button" onClick=${() => setConfirming(false)}>Keep the current secret</button></p>`}`
      : html`<p class="muted">The first URL you save creates the secret.</p>`}
    <${ProblemBox} error=${error} />
    <${NewSecret} secret=${secret} settings=${s} />
  </section>`;
}

export function Callbacks() {
  useTitle('Callbacks');
  return html`<section>
    <h1>Callbacks</h1>
    <${Settings} />
    <${Deliveries} />
    <${Parked} />
  </section>`;
}
