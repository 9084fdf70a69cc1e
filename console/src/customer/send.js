// The send form. Its live preview (segments, encoding, cost) is the server's: every change
// asks POST /sms/quote, which applies the very rules of POST /sms/send.

import { useEffect, useState } from '../../vendor/hooks.mjs';
import { api } from '../api.js';
import { newIdempotencyKey, num } from '../format.js';
import { Field, ProblemBox, html, useLoad, useTitle } from '../ui.js';

/** Recipients typed one per line, or separated by commas or spaces. */
function splitRecipients(raw) {
  return raw.split(/[\s,;]+/).map((r) => r.trim()).filter(Boolean);
}

function body(form) {
  const b = { text: form.text, recipients: splitRecipients(form.recipients), type: form.type };
  if (form.from) b.from = form.from;
  if (form.reference.trim()) b.reference = form.reference.trim();
  if (form.sendAt) b.send_at = new Date(form.sendAt).toISOString();
  return b;
}

export function SendForm() {
  useTitle('Send');
  const [form, setForm] = useState({ text: '', recipients: '', type: 'normal', from: '', reference: '', sendAt: '' });
  const [quote, setQuote] = useState({ data: null, error: null });
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const senders = useLoad(() => api('GET', '/senders'), []);
  const set = (k) => (e) => setForm({ ...form, [k]: e.target.value });

  useEffect(() => {
    if (!form.text) {
      setQuote({ data: null, error: null });
      return undefined;
    }
    let live = true;
    const timer = setTimeout(async () => {
      try {
        const data = await api('POST', '/sms/quote', body(form));
        if (live) setQuote({ data, error: null });
      } catch (e) {
        if (live) setQuote({ data: null, error: e });
      }
    }, 200);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [form]);

  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const sent = await api('POST', '/sms/send', body(form), { idempotencyKey: newIdempotencyKey() });
      location.hash = `#/sms/${encodeURIComponent(sent.sms_identifier)}`;
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const q = quote.data;
  const list = senders.data ? senders.data.senders : [];
  return html`<section>
    <h1>Send an SMS</h1>
    <form class="stack" onSubmit=${submit}>
      <${Field} id="send-text" label="Text">
        <textarea id="send-text" rows="4" required value=${form.text} onInput=${set('text')}
          aria-describedby="send-quote"></textarea>
      <//>
      <p id="send-quote" class="quote" aria-live="polite" data-testid="quote">
        ${q ? html`<span data-testid="quote-segments">${`${q.segments} segment${q.segments === 1 ? '' : 's'}`}</span>${' · '}<span data-testid="quote-encoding">${q.encoding}</span>${` · ${q.units} units · ${q.recipients} recipient${q.recipients === 1 ? '' : 's'} · cost `}<strong data-testid="quote-cost">${num(q.cost)}</strong>${` credits (${q.price_per_segment} per segment; balance ${num(q.balance)}${q.covered ? '' : ', not enough'})`}`
          : form.text ? 'Pricing…' : 'Type a text to see its segments and cost.'}
      </p>
      <${ProblemBox} error=${quote.error} />
      <${Field} id="send-recipients" label="Recipients" hint="One per line, or separated by commas; E.164 (+989121234567) or local numbers.">
        <textarea id="send-recipients" rows="3" required aria-describedby="send-recipients-hint"
          value=${form.recipients} onInput=${set('recipients')}></textarea>
      <//>
      <div class="row">
        <${Field} id="send-type" label="Lane">
          <select id="send-type" value=${form.type} onChange=${set('type')}>
            <option value="normal">normal</option>
            <option value="express">express</option>
          </select>
        <//>
        <${Field} id="send-from" label="Sender id">
          <select id="send-from" value=${form.from} onChange=${set('from')}>
            <option value="">default</option>
            ${list.map((s) => html`<option value=${s.sender}>${s.sender}${s.default ? ' (default)' : ''}</option>`)}
          </select>
        <//>
      </div>
      <div class="row">
        <${Field} id="send-reference" label="Your reference (optional)">
          <input id="send-reference" maxlength="64" value=${form.reference} onInput=${set('reference')} />
        <//>
        <${Field} id="send-at" label="Send at (optional)">
          <input id="send-at" type="datetime-local" value=${form.sendAt} onInput=${set('sendAt')} />
        <//>
      </div>
      <${ProblemBox} error=${error} />
      <button type="submit" class="primary" disabled=${busy}>Send</button>
    </form>
  </section>`;
}
