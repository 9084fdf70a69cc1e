// The customer's dashboard: balance, today's and the last 7 days' counts (GET /reports/daily)
// and a chart of them (inline SVG, drawn here: no chart library).

import { api, query } from '../api.js';
import { num, utcDay } from '../format.js';
import { ProblemBox, html, useLoad, useTitle } from '../ui.js';

const DAYS = 7;

/** The last `DAYS` UTC days, oldest first, each with its counts (zeros for a quiet day). */
function week(report, today) {
  // A day's totals carry its counts as fields (requests, recipients, delivered, ...).
  const byDay = new Map((report.totals || []).map((t) => [t.day, t]));
  const days = [];
  for (let i = DAYS - 1; i >= 0; i--) {
    const d = new Date(today);
    d.setUTCDate(d.getUTCDate() - i);
    const day = utcDay(d);
    const c = byDay.get(day) || {};
    days.push({
      day,
      sent: c.recipients || 0,
      delivered: c.delivered || 0,
      failed: (c.failed || 0) + (c.undelivered || 0),
      cost: c.cost || 0,
    });
  }
  return days;
}

function Chart({ days }) {
  const w = 700;
  const hgt = 220;
  const pad = 30;
  const max = Math.max(1, ...days.map((d) => d.sent));
  const slot = (w - pad * 2) / days.length;
  const bar = slot / 4;
  const y = (v) => hgt - pad - ((hgt - pad * 2) * v) / max;
  const series = [
    ['sent', 'bar-sent'],
    ['delivered', 'bar-delivered'],
    ['failed', 'bar-failed'],
  ];
  return html`<figure class="chart">
    <svg viewBox=${`0 0 ${w} ${hgt}`} role="img" aria-labelledby="chart-title">
      <title id="chart-title">Recipients sent, delivered and failed per day, last ${DAYS} days</title>
      <line x1=${pad} y1=${hgt - pad} x2=${w - pad} y2=${hgt - pad} class="axis" />
      <text x=${pad - 4} y=${y(max) + 4} class="tick" text-anchor="end">${max}</text>
      <text x=${pad - 4} y=${hgt - pad + 4} class="tick" text-anchor="end">0</text>
      ${days.map((d, i) => html`<g>
        ${series.map(([k, cls], j) => html`<rect class=${cls} x=${pad + i * slot + bar * (j + 0.5)} y=${y(d[k])}
          width=${bar} height=${hgt - pad - y(d[k])}><title>${d.day} ${k}: ${d[k]}</title></rect>`)}
        <text x=${pad + i * slot + slot / 2} y=${hgt - pad + 16} class="tick" text-anchor="middle">${d.day.slice(5)}</text>
      </g>`)}
    </svg>
    <figcaption>
      <span class="key bar-sent"></span>${' sent · '}<span class="key bar-delivered"></span>${' delivered · '}<span class="key bar-failed"></span>${' failed (UTC days)'}
    </figcaption>
  </figure>`;
}

function Counts({ label, d }) {
  return html`<div class="card">
    <h2>${label}</h2>
    <dl class="counts">
      <dt>Sent</dt><dd data-testid=${`${label}-sent`}>${num(d.sent)}</dd>
      <dt>Delivered</dt><dd>${num(d.delivered)}</dd>
      <dt>Failed</dt><dd>${num(d.failed)}</dd>
      <dt>Cost</dt><dd>${num(d.cost)} credits</dd>
    </dl>
  </div>`;
}

export function Dashboard() {
  useTitle('Dashboard');
  const today = new Date();
  const from = new Date(today);
  from.setUTCDate(from.getUTCDate() - (DAYS - 1));
  const balance = useLoad(() => api('GET', '/balance?limit=1'), []);
  const report = useLoad(
    () => api('GET', `/reports/daily${query({ from: utcDay(from), to: utcDay(today) })}`),
    [],
  );
  const days = report.data ? week(report.data, today) : null;
  const sum = days && days.reduce(
    (a, d) => ({ sent: a.sent + d.sent, delivered: a.delivered + d.delivered, failed: a.failed + d.failed, cost: a.cost + d.cost }),
    { sent: 0, delivered: 0, failed: 0, cost: 0 },
  );
  return html`<section>
    <h1>Dashboard</h1>
    <div class="cards">
      <div class="card">
        <h2>Balance</h2>
        <p class="big" data-testid="balance">${balance.data ? num(balance.data.balance) : '…'}</p>
        <p class="muted">credits · <a href="#/send">Send an SMS</a></p>
      </div>
      ${days && html`<${Counts} label="Today" d=${days[days.length - 1]} />`}
      ${sum && html`<${Counts} label="Last 7 days" d=${sum} />`}
    </div>
    <${ProblemBox} error=${balance.error || report.error} />
    ${days && html`<${Chart} days=${days} />`}
  </section>`;
}
