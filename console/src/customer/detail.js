// One request: its text, price and each recipient's timeline (GET /sms/{id}), refreshed
// while any recipient is still on its way; cancel what has not been sent yet.

import { useState } from '../../vendor/hooks.mjs';
import { api } from '../api.js';
import { FINAL, num, statusClass, when } from '../format.js';
import { Action, ProblemBox, html, useLoad, useTitle } from '../ui.js';

const open = (d) => d.messages.some((m) => !FINAL.includes(m.status));

export function Detail({ id }) {
  useTitle('Message');
  const sms = useLoad(({ background }) => api('GET', `/sms/${encodeURIComponent(id)}`, undefined, { background }), [id], { everyMs: 1000, keepPolling: open });
  const d = sms.data;
  const [error, setError] = useState(null);
  const cancel = async () => {
    setError(null);
    try {
      await api('POST', `/sms/${encodeURIComponent(id)}/cancel`);
    } catch (e) {
      setError(e);
    } finally {
      sms.reload();
    }
  };
  return html`<section>
    <h1>Message <code class="id">${id}</code></h1>
    <${ProblemBox} error=${sms.error} />
    ${d && html`<div>
      <dl class="facts">
        <dt>Text</dt><dd class="text">${d.text}</dd>
        <dt>Lane</dt><dd>${d.type}</dd>
        <dt>Encoding</dt><dd>${d.encoding}, ${d.segments} segment(s)</dd>
        <dt>Recipients</dt><dd>${d.recipients}</dd>
        <dt>Cost</dt><dd>${num(d.cost)} credits</dd>
        ${d.from && html`<dt>Sender id</dt><dd>${d.from}</dd>`}
        ${d.reference && html`<dt>Reference</dt><dd>${d.reference}</dd>`}
        ${d.send_at && html`<dt>Send at</dt><dd>${when(d.send_at)}</dd>`}
        <dt>Created</dt><dd>${when(d.created_at)}</dd>
        <dt>States</dt><dd data-testid="counts">${Object.entries(d.counts).map(([s, n]) => html`<span class=${statusClass(s)}>${s} ${n}</span> `)}</dd>
      </dl>
      ${open(d) && html`<p><${Action} onRun=${cancel}>Cancel what is not sent yet<//></p>`}
      <${ProblemBox} error=${error} />
      ${d.messages.map((m) => html`<article class="card recipient">
        <h2>${m.recipient} <span class=${statusClass(m.status)} data-testid="recipient-status">${m.status}</span></h2>
        <p class="muted">${m.provider ? `via ${m.provider}` : 'no operator yet'} · ${m.attempts} attempt(s)${m.failure_reason ? ` · ${m.failure_reason}` : ''}</p>
        <ol class="timeline">
          ${m.events.map((e) => html`<li><span class=${statusClass(e.status)}>${e.status}</span> <time datetime=${e.at}>${when(e.at)}</time>${e.detail ? ` — ${e.detail}` : ''}</li>`)}
        </ol>
        ${m.events_truncated && html`<p class="muted">Older events are left out.</p>`}
      </article>`)}
      ${d.next_cursor && html`<p class="muted">More recipients than shown; filter the <a href=${`#/history?sms_identifier=${encodeURIComponent(id)}`}>history</a> by this request.</p>`}
    </div>`}
  </section>`;
}
