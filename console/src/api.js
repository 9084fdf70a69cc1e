// The console's one way to call the gateway's JSON API: same origin, the session cookie
// (HttpOnly, so never visible here), and the session's CSRF token on every write. The token
// lives in this module's memory only; GET /session gives it again after a reload.

let csrfToken = null;
let onSignedOut = () => {};

/** Remembers the CSRF token of the session (null after signing out). */
export function setCsrfToken(token) {
  csrfToken = token;
}

/** Called when the API answers 401: the session ended (expired, signed out, key rotated). */
export function onUnauthorized(handler) {
  onSignedOut = handler;
}

/** An error answer of the API: its problem document (RFC 9457). */
export class Problem extends Error {
  constructor(status, doc) {
    super(doc.detail || doc.title || `HTTP ${status}`);
    this.status = status;
    this.doc = doc;
  }
}

/**
 * Calls the API. `body` is sent as JSON; the answer is the decoded JSON (null for 204).
 * `background`: a refresh the page made by itself, which the gateway does not count as a use
 * of the session (X-Background-Refresh), so an open page still goes idle.
 * Throws a Problem for every non-2xx answer, or when the gateway cannot be reached.
 */
export async function api(method, path, body, { idempotencyKey, quiet401, background } = {}) {
  const headers = { Accept: 'application/json' };
  if (background) headers['X-Background-Refresh'] = '1';
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  if (idempotencyKey) headers['Idempotency-Key'] = idempotencyKey;
  let resp;
  try {
    resp = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch (e) {
    throw new Problem(0, { title: 'Gateway unreachable', detail: String(e.message || e) });
  }
  if (resp.status === 204) return null;
  const type = resp.headers.get('content-type') || '';
  const data = type.includes('json') ? await resp.json() : await resp.text();
  if (!resp.ok) {
    const doc = typeof data === 'object' && data ? data : { title: resp.statusText, detail: String(data) };
    if (resp.status === 401 && !quiet401) onSignedOut();
    throw new Problem(resp.status, doc);
  }
  return data;
}

/** A query string of the non-empty fields of `params` ("" when none). */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && String(v).trim() !== '') q.set(k, String(v).trim());
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}
