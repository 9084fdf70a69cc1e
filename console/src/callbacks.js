// What the customer's Callbacks page and the admin's callbacks page of a customer share: the
// log of recent POSTs (GET /callbacks/deliveries) and the parked events with their replay
// (GET /callbacks/parked, POST /callbacks/replay). `userId` names the customer for the admin
// (`?user_id=`); a customer's session leaves it out and gets its own.

import { useState } from '../vendor/hooks.mjs';
import { api, query } from './api.js';
import { num, when } from './format.js';
import { Action, ProblemBox, html, useLoad } from './ui.js';

/** A list endpoint's pages, newest first, with a cursor kept in the component. */
function usePages(path, userId) {
  const [cursor, setCursor] = useState('');
  const page = useLoad(() => api('GET', `${path}${query({ user_id: userId, limit: 20, cursor })}`), [path, userId, cursor]);
  return { page, cursor, setCursor };
}

function Pager({ cursor, setCursor, data }) {
  return html`<div class="pager">
    ${cursor && html`<button type="button" onClick=${() => setCursor('')}>First page</button>`}
    ${data && data.next_cursor && html`<button type="button" onClick=${() => setCursor(data.next_cursor)}>Next page</button>`}
  </div>`;
}

const OUTCOME_CLASS = { delivered: 'badge ok', failed: 'badge bad', unreachable: 'badge wait', refused: 'badge bad' };

/** The recent callback POSTs (kept CALLBACK_LOG_DAYS). */
export function Deliveries({ userId }) {
  const { page, cursor, setCursor } = usePages('/callbacks/deliveries', userId);
  const items = page.data ? page.data.items : [];
  return html`<section class="card" aria-labelledby="deliveries-title">
    <h2 id="deliveries-title">Recent deliveries</h2>
    <p><button type="button" onClick=${page.reload}>Refresh</button></p>
    <${ProblemBox} error=${page.error} />
    ${page.data && items.length === 0 && html`<p class="muted" data-testid="no-deliveries">No callback POSTs in the log.</p>`}
    ${items.length > 0 && html`<div class="table-wrap"><table>
      <caption class="sr-only">Callback POSTs, newest first</caption>
      <thead><tr><th scope="col">At</th><th scope="col">Outcome</th><th scope="col">HTTP</th><th scope="col">Events</th><th scope="col">Time</th><th scope="col">URL</th><th scope="col">Error</th></tr></thead>
      <tbody>${items.map((d) => html`<tr data-testid="delivery-row">
        <td>${when(d.at)}</td>
        <td><span class=${OUTCOME_CLASS[d.outcome] || 'badge muted'}>${d.outcome}</span></td>
        <td>${d.http_status ?? '—'}</td><td>${num(d.events)}</td><td>${num(d.duration_ms)} ms</td>
        <td><code class="id">${d.url}</code></td><td>${d.error || ''}</td>
      </tr>`)}</tbody>
    </table></div>`}
    <${Pager} cursor=${cursor} setCursor=${setCursor} data=${page.data} />
  </section>`;
}

/** The parked events (their retries ran out), each replayable, or all at once. */
export function Parked({ userId }) {
  const { page, cursor, setCursor } = usePages('/callbacks/parked', userId);
  const [report, setReport] = useState(null);
  const [error, setError] = useState(null);
  const replay = async (eventIds) => {
    setError(null);
    setReport(null);
    try {
      const body = eventIds ? { event_ids: eventIds } : {};
      setReport((await api('POST', `/callbacks/replay${query({ user_id: userId })}`, body)).replayed);
    } catch (e) {
      setError(e);
    }
    setCursor('');
    page.reload();
  };
  const items = page.data ? page.data.items : [];
  return html`<section class="card" aria-labelledby="parked-title">
    <h2 id="parked-title">Parked events</h2>
    <p class="muted">Events whose retries ran out. A replay makes them pending again: each is posted as a new event would be, under its own event id.</p>
    <p class="buttons">${items.length > 0 && html`<${Action} kind="primary" onRun=${() => replay(null)}>Replay all parked events<//>`}
      <button type="button" onClick=${page.reload}>Refresh</button></p>
    ${report !== null && html`<p role="status" data-testid="replayed">${report} event(s) replayed.</p>`}
    <${ProblemBox} error=${page.error || error} />
    ${page.data && items.length === 0 && html`<p class="muted" data-testid="no-parked">No parked events.</p>`}
    ${items.length > 0 && html`<div class="table-wrap"><table>
      <caption class="sr-only">Parked events, newest first</caption>
      <thead><tr><th scope="col">Event</th><th scope="col">Status</th><th scope="col">Recipient</th><th scope="col">Request</th><th scope="col">Occurred</th><th scope="col">Tries</th><th scope="col">Last error</th><th scope="col">Parked</th><th scope="col">Action</th></tr></thead>
      <tbody>${items.map((p) => html`<tr data-testid="parked-row">
        <td><code>${p.event_id}</code></td><td>${p.status}</td><td>${p.recipient}</td>
        <td><code class="id">${p.sms_identifier}</code></td><td>${when(p.occurred_at)}</td><td>${num(p.attempts)}</td>
        <td>${p.last_error || ''}</td><td>${when(p.parked_at)}</td>
        <td><${Action} label=${`Replay ${p.event_id}`} onRun=${() => replay([p.event_id])}>Replay<//></td>
      </tr>`)}</tbody>
    </table></div>`}
    <${Pager} cursor=${cursor} setCursor=${setCursor} data=${page.data} />
  </section>`;
}
