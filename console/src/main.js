// The console's shell: sign-in, navigation by the URL's hash (#/history?status=...), and the
// page of each route. Every page talks to the same JSON API as any other client.

import { render } from '../vendor/preact.mjs';
import { useEffect, useState } from '../vendor/hooks.mjs';
import { Problem, api, onUnauthorized, setCsrfToken } from './api.js';
import { Field, ProblemBox, html } from './ui.js';
import { Dashboard } from './customer/dashboard.js';
import { SendForm } from './customer/send.js';
import { History } from './customer/history.js';
import { Detail } from './customer/detail.js';
import { Account } from './customer/account.js';
import { Callbacks } from './customer/callbacks.js';
import { Customers, CustomerPage } from './admin/customers.js';
import { Operators } from './admin/operators.js';
import { DeadLetters } from './admin/dead_letters.js';
import { CustomerCallbacks } from './admin/callbacks.js';

/** The current route: its path segments and its query parameters. */
function currentRoute() {
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path, qs] = hash.split('?');
  return { parts: path.split('/').filter(Boolean), params: new URLSearchParams(qs || '') };
}

const CUSTOMER_NAV = [
  ['#/', 'Dashboard'],
  ['#/send', 'Send'],
  ['#/history', 'History'],
  ['#/callbacks', 'Callbacks'],
  ['#/account', 'Account'],
];
const ADMIN_NAV = [
  ['#/customers', 'Customers'],
  ['#/operators', 'Operators'],
  ['#/dead-letters', 'Dead letters'],
];

function customerPage({ parts, params }, session) {
  switch (parts[0]) {
    case undefined:
      return html`<${Dashboard} session=${session} />`;
    case 'send':
      return html`<${SendForm} />`;
    case 'history':
      return html`<${History} key=${params.toString()} params=${params} />`;
    case 'sms':
      return html`<${Detail} id=${decodeURIComponent(parts[1] || '')} />`;
    case 'callbacks':
      return html`<${Callbacks} />`;
    case 'account':
      return html`<${Account} session=${session} />`;
    default:
      return html`<${NotHere} />`;
  }
}

function adminPage({ parts, params }) {
  switch (parts[0]) {
    case undefined:
    case 'customers':
      if (parts[1] && parts[2] === 'callbacks') return html`<${CustomerCallbacks} id=${Number(parts[1])} />`;
      return parts[1]
        ? html`<${CustomerPage} id=${Number(parts[1])} />`
        : html`<${Customers} key=${params.toString()} params=${params} />`;
    case 'operators':
      return html`<${Operators} />`;
    case 'dead-letters':
      return html`<${DeadLetters} />`;
    default:
      return html`<${NotHere} />`;
  }
}

function NotHere() {
  return html`<section><h1>Not here</h1><p>This console has no such page. <a href="#/">Back to the start</a>.</p></section>`;
}

function SignIn({ onSignedIn, notice }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const session = await api('POST', '/session', { key }, { quiet401: true });
      setKey('');
      onSignedIn(session);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<main class="signin">
    <h1>SMS gateway console</h1>
    ${notice && html`<p class="notice" role="status">${notice}</p>`}
    <form onSubmit=${submit}>
      <${Field} id="signin-key" label="API key or admin token"
        hint="Customers sign in with their API key, operators with the gateway's ADMIN_TOKEN. It is exchanged for a session and not kept in this browser.">
        <input id="signin-key" name="key" type="password" autocomplete="off" required
          aria-describedby="signin-key-hint" value=${key} onInput=${(e) => setKey(e.target.value)} />
      <//>
      <${ProblemBox} error=${error} />
      <button type="submit" class="primary" disabled=${busy}>Sign in</button>
    </form>
  </main>`;
}

function App() {
  const [session, setSession] = useState(undefined);
  const [notice, setNotice] = useState(null);
  const [route, setRoute] = useState(currentRoute());
  const [menuOpen, setMenuOpen] = useState(false);

  useEffect(() => {
    const onHash = () => {
      setRoute(currentRoute());
      setMenuOpen(false);
    };
    addEventListener('hashchange', onHash);
    onUnauthorized(() => {
      setCsrfToken(null);
      setSession(null);
      setNotice('Your session has ended (signed out, unused for too long, expired, or the key was rotated). Sign in again.');
    });
    api('GET', '/session', undefined, { quiet401: true })
      .then((s) => {
        setCsrfToken(s.csrf_token);
        setSession(s);
      })
      .catch((e) => {
        if (!(e instanceof Problem) || e.status !== 401) setNotice(e.message);
        setSession(null);
      });
    return () => removeEventListener('hashchange', onHash);
  }, []);

  if (session === undefined) return html`<p class="loading" role="status">Loading…</p>`;
  if (session === null) {
    return html`<${SignIn} notice=${notice} onSignedIn=${(s) => {
      setCsrfToken(s.csrf_token);
      setNotice(null);
      setSession(s);
      location.hash = s.role === 'admin' ? '#/customers' : '#/';
    }} />`;
  }

  const signOut = async () => {
    let notice = 'Signed out.';
    try {
      await api('DELETE', '/session', undefined, { quiet401: true });
    } catch (e) {
      // 401: the session had ended already. Otherwise the gateway did not end it: say so.
      if (!(e instanceof Problem) || e.status !== 401) {
        const minutes = Math.round(session.idle_timeout_secs / 60);
        notice = `Signed out in this browser, but the gateway did not confirm it (${e.message}); the session ends by itself once unused for ${minutes} minutes.`;
      }
    }
    setCsrfToken(null);
    setSession(null);
    setNotice(notice);
  };
  const nav = session.role === 'admin' ? ADMIN_NAV : CUSTOMER_NAV;
  const here = `#/${route.parts[0] || ''}`;
  const who = session.role === 'admin' ? 'Admin' : `${session.name} (#${session.customer_id})`;
  return html`<div class="shell">
    <header class="top">
      <a class="brand" href="#/">SMS gateway</a>
      <button type="button" class="menu" aria-expanded=${menuOpen} aria-controls="nav"
        onClick=${() => setMenuOpen(!menuOpen)}>Menu</button>
      <nav id="nav" class=${menuOpen ? 'open' : ''} aria-label="Main">
        ${nav.map(([href, label]) => html`<a href=${href} aria-current=${here === href || (href === '#/customers' && here === '#/') ? 'page' : undefined}>${label}</a>`)}
      </nav>
      <span class="who" data-testid="who">${who}</span>
      <button type="button" onClick=${signOut}>Sign out</button>
    </header>
    <main id="main">
      ${session.role === 'admin' ? adminPage(route) : customerPage(route, session)}
    </main>
  </div>`;
}

render(html`<${App} />`, document.getElementById('app'));
