// A customer's callbacks, for the admin (#/customers/{id}/callbacks): its webhook URL, the
// recent POSTs and its parked events with their replay, each endpoint named `?user_id=`
// (the customer's name from GET /admin/customers/{id}).

import { api, query } from '../api.js';
import { when } from '../format.js';
import { Deliveries, Parked } from '../callbacks.js';
import { ProblemBox, html, useLoad, useTitle } from '../ui.js';

export function CustomerCallbacks({ id }) {
  const customer = useLoad(() => api('GET', `/admin/customers/${id}`), [id]);
  const name = customer.data ? customer.data.name : `customer #${id}`;
  useTitle(`Callbacks of ${name}`);
  const settings = useLoad(() => api('GET', `/callbacks/settings${query({ user_id: id })}`), [id]);
  const s = settings.data;
  return html`<section>
    <p><a href=${`#/customers/${id}`}>← ${customer.data ? customer.data.name : `Customer #${id}`}</a></p>
    <h1>Callbacks of ${name}</h1>
    <${ProblemBox} error=${customer.error || settings.error} />
    ${s && html`<div class="card">
      <h2>Webhook</h2>
      <p data-testid="webhook-state">${s.url ? html`Callbacks go to <code class="id">${s.url}</code>.` : 'No webhook URL: callbacks only for requests that name a callback_url.'}</p>
      ${s.previous_secret_expires_at && html`<p class="muted">The secret was rotated; the previous one signs too until ${when(s.previous_secret_expires_at)}.</p>`}
    </div>`}
    <${Parked} userId=${id} />
    <${Deliveries} userId=${id} />
  </section>`;
}
