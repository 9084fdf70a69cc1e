// Operators and lanes: each operator's breaker state and counters (GET /admin/operators), each
// lane's backlog and throughput of the last minute, counted by the gateway over every worker
// process (GET /admin/lanes), and the dispatch switch (pause / resume). Refreshed every 2 s.

import { useState } from '../../vendor/hooks.mjs';
import { api } from '../api.js';
import { num } from '../format.js';
import { Action, ProblemBox, html, useLoad, useTitle } from '../ui.js';

const EVERY_MS = 2000;

function circuitClass(c) {
  if (c === 'closed') return 'badge ok';
  if (c === 'open') return 'badge bad';
  return 'badge wait';
}

export function Operators() {
  useTitle('Operators');
  const view = useLoad(async ({ background }) => {
    const [ops, lanes] = await Promise.all([
      api('GET', '/admin/operators', undefined, { background }),
      api('GET', '/admin/lanes', undefined, { background }),
    ]);
    return { ops, lanes };
  }, [], { everyMs: EVERY_MS });
  const v = view.data;
  const [error, setError] = useState(null);
  const setPaused = async (paused) => {
    setError(null);
    try {
      await api('POST', `/admin/dispatch/${paused ? 'pause' : 'resume'}`);
    } catch (e) {
      setError(e);
    }
    view.reload();
  };
  return html`<section>
    <h1>Operators and lanes</h1>
    <${ProblemBox} error=${view.error} />
    ${v && html`<div>
      <div class="card">
        <h2>Dispatch: <span data-testid="dispatch-state" class=${v.ops.dispatch_paused ? 'badge bad' : 'badge ok'}>${v.ops.dispatch_paused ? 'paused' : 'running'}</span></h2>
        <p>While paused, workers take no new message; nothing is lost, messages wait in the queues.</p>
        ${v.ops.dispatch_paused
          ? html`<${Action} kind="primary" onRun=${() => setPaused(false)}>Resume dispatch<//>`
          : html`<${Action} kind="danger" onRun=${() => setPaused(true)}>Pause dispatch<//>`}
        <${ProblemBox} error=${error} />
      </div>
      <div class="card">
        <h2>Lanes</h2>
        <p class="muted">Throughput is every worker process's: recipients recorded SENT in the last minute.</p>
        <div class="table-wrap"><table>
          <thead><tr><th scope="col">Lane</th><th scope="col">Waiting recipients</th><th scope="col">Sent, last minute</th><th scope="col">Sent/s</th></tr></thead>
          <tbody>${v.lanes.lanes.map((l) => html`<tr>
            <td>${l.lane}</td><td data-testid=${`backlog-${l.lane}`}>${num(l.waiting_recipients)}</td>
            <td data-testid=${`sent-${l.lane}`}>${num(l.sent_last_minute)}</td><td>${l.sent_per_sec.toFixed(2)}</td>
          </tr>`)}</tbody>
        </table></div>
      </div>
      <div class="card">
        <h2>Operators</h2>
        <p class="muted">Circuits and counters are those of the gateway process answering this page (each process keeps its own).</p>
        <div class="table-wrap"><table>
          <thead><tr><th scope="col">Operator</th><th scope="col">Lanes</th><th scope="col">Circuit</th><th scope="col">Sent</th><th scope="col">Calls</th><th scope="col">Transient failures</th><th scope="col">Permanent failures</th><th scope="col">Refused by circuit</th><th scope="col">Rate limit</th></tr></thead>
          <tbody>${v.ops.operators.map((o) => html`<tr data-testid="operator-row">
            <td>${o.name}</td><td>${o.lanes.join(', ')}</td>
            <td><span class=${circuitClass(o.circuit)}>${o.circuit}</span></td>
            <td>${num(o.sent)}</td>
            <td>${num(o.calls)}</td><td>${num(o.transient_failures)}</td><td>${num(o.permanent_failures)}</td>
            <td>${num(o.rejected_by_circuit)}</td>
            <td>${o.max_rps ? `${o.max_rps}/s${o.throttled ? ' (slowed)' : ''}` : 'none'}</td>
          </tr>`)}</tbody>
        </table></div>
      </div>
    </div>`}
  </section>`;
}
