// Formatting shared by the pages.

/** A timestamp in the viewer's locale (UTC timestamps from the API). */
export function when(ts) {
  if (!ts) return '—';
  const d = new Date(ts);
  return Number.isNaN(d.getTime()) ? ts : d.toLocaleString();
}

/** An integer with thousands separators. */
export function num(n) {
  return n === null || n === undefined ? '—' : Number(n).toLocaleString();
}

/** YYYY-MM-DD of a Date, in UTC (the reports' days are UTC days). */
export function utcDay(d) {
  return d.toISOString().slice(0, 10);
}

/** Statuses that will not change any more. */
export const FINAL = ['DELIVERED', 'UNDELIVERED', 'FAILED', 'EXPIRED', 'CANCELLED', 'REJECTED'];

/** The CSS class of a status badge. */
export function statusClass(status) {
  const s = String(status || '').toUpperCase();
  if (s === 'DELIVERED') return 'badge ok';
  if (['FAILED', 'UNDELIVERED', 'EXPIRED', 'REJECTED'].includes(s)) return 'badge bad';
  if (s === 'CANCELLED') return 'badge muted';
  return 'badge wait';
}

/** A random Idempotency-Key for one submission of a form. */
export function newIdempotencyKey() {
  return crypto.randomUUID();
}
