// Shared components: the html tag, problem display, labelled fields, loading of data.

import { h } from '../vendor/preact.mjs';
import { useCallback, useEffect, useState } from '../vendor/hooks.mjs';
import htm from '../vendor/htm.mjs';

/** Tagged templates producing Preact elements (htm: no eval, no build step). */
export const html = htm.bind(h);

/** Shows an API problem document: its title, detail and each invalid field. */
export function ProblemBox({ error }) {
  if (!error) return null;
  const doc = error.doc || { title: 'Error', detail: String(error.message || error) };
  const fields = doc.errors ? Object.entries(doc.errors) : [];
  return html`<div class="problem" role="alert">
    <strong>${doc.title || 'Error'}</strong>${doc.status ? html` <span class="muted">(${doc.status})</span>` : ''}
    <div>${doc.detail}</div>
    ${fields.length > 0 && html`<ul>${fields.map(([f, m]) => html`<li><code>${f}</code>: ${m}</li>`)}</ul>`}
  </div>`;
}

/** A labelled form field; `hint` is shown below it and announced with it. */
export function Field({ id, label, hint, children }) {
  return html`<div class="field">
    <label for=${id}>${label}</label>
    ${children}
    ${hint && html`<small id=${`${id}-hint`} class="muted">${hint}</small>`}
  </div>`;
}

/**
 * Loads data with `load({ background })` (re-run when `deps` change, and by `reload()`);
 * optionally every `everyMs` while `keepPolling(data)` says so, and after a failure that may
 * pass (the gateway unreachable, a 5xx). Those automatic runs get `background: true`, to pass
 * on to `api()`: they do not keep the session from going idle. Returns { data, error,
 * loading, reload }.
 */
export function useLoad(load, deps, { everyMs, keepPolling } = {}) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  useEffect(() => {
    let live = true;
    let timer = null;
    const again = () => run(true);
    const run = async (background) => {
      try {
        const data = await load({ background });
        if (!live) return;
        setState({ data, error: null, loading: false });
        if (everyMs && (!keepPolling || keepPolling(data))) timer = setTimeout(again, everyMs);
      } catch (error) {
        if (!live) return;
        setState((s) => ({ data: s.data, error, loading: false }));
        // A polled page keeps trying while the gateway is unreachable or failing (5xx),
        // and shows the problem meanwhile; a refusal (4xx) stops it.
        const passing = error.status === 0 || error.status >= 500;
        if (everyMs && passing) timer = setTimeout(again, everyMs);
      }
    };
    run(false);
    return () => {
      live = false;
      if (timer) clearTimeout(timer);
    };
  }, [...deps, tick]);
  return { ...state, reload };
}

/** A button that runs an async action, disabled while it runs. */
export function Action({ onRun, children, kind, label }) {
  const [busy, setBusy] = useState(false);
  const run = async () => {
    setBusy(true);
    try {
      await onRun();
    } finally {
      setBusy(false);
    }
  };
  return html`<button type="button" class=${kind || ''} disabled=${busy} aria-label=${label} onClick=${run}>${children}</button>`;
}

/** Sets the document title for a page. */
export function useTitle(title) {
  useEffect(() => {
    document.title = `${title} · SMS gateway console`;
  }, [title]);
}
