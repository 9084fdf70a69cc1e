// Dead letters: the head of the dead-letter queue (GET /admin/dead-letters) and replaying them
// (POST /admin/dead-letters/replay).

import { useState } from '../../vendor/hooks.mjs';
import { api } from '../api.js';
import { Action, ProblemBox, html, useLoad, useTitle } from '../ui.js';

export function DeadLetters() {
  useTitle('Dead letters');
  const list = useLoad(() => api('GET', '/admin/dead-letters?limit=100'), []);
  const [report, setReport] = useState(null);
  const [error, setError] = useState(null);
  const replay = async () => {
    setError(null);
    try {
      setReport(await api('POST', '/admin/dead-letters/replay'));
    } catch (e) {
      setError(e);
    }
    list.reload();
  };
  const d = list.data;
  return html`<section>
    <h1>Dead letters</h1>
    <${ProblemBox} error=${list.error || error} />
    ${d && html`<div>
      <p><span data-testid="dead-letter-total">${d.total}</span> message(s) in the dead-letter queue.</p>
      <p><${Action} kind="primary" onRun=${replay}>Replay them<//>
        <span class="muted"> Each one naming a request goes back into the outbox; finished recipients are not sent again.</span></p>
      ${report && html`<p role="status">Replayed ${report.replayed}, left ${report.skipped} in the queue.</p>`}
      <div class="table-wrap"><table>
        <thead><tr><th scope="col">Request(s)</th><th scope="col">Reason</th><th scope="col">Queue</th><th scope="col">Deaths</th></tr></thead>
        <tbody>${d.items.map((m) => html`<tr>
          <td>${(m.sms_identifiers.length ? m.sms_identifiers : [m.sms_identifier || '—']).map((id) => html`<code class="id">${id}</code> `)}</td>
          <td>${m.reason || '—'}</td><td>${m.queue || '—'}</td><td>${m.count ?? '—'}</td>
        </tr>`)}</tbody>
      </table></div>
    </div>`}
  </section>`;
}
