// photostream web app: a router over real URLs, the shared header (search,
// notification bell, account links) and the keyboard-shortcuts dialog.
// Pages live in ./js/*.js; each is `async (ctx) => void` rendering into ctx.main.

import { h, replace, message, typing } from './js/dom.js';
import { api, session, isModerator } from './js/api.js';
import { startStream, stopStream } from './js/notify.js';
import * as pages from './js/pages.js';
import { photoPage } from './js/photo.js';
import { uploadPage } from './js/upload.js';
import { statsPage, moderationPage } from './js/admin.js';

/** [pattern, page, needs sign-in]. Groups in a pattern become ctx.params. */
const ROUTES = [
  [/^\/$/, pages.home],
  [/^\/signin$/, pages.signin],
  [/^\/signup$/, pages.signup],
  [/^\/feed$/, pages.feed, true],
  [/^\/explore$/, pages.explore],
  [/^\/search$/, pages.search],
  [/^\/upload$/, uploadPage, true],
  [/^\/notifications$/, pages.notifications, true],
  [/^\/settings\/tokens$/, pages.tokens, true],
  [/^\/stats$/, statsPage, true],
  [/^\/moderation$/, moderationPage, true],
  [/^\/groups$/, pages.groups],
  [/^\/groups\/([^/]+)$/, pages.group],
  [/^\/albums\/([^/]+)$/, pages.album],
  [/^\/u\/([^/]+)\/albums$/, pages.albums],
  [/^\/u\/([^/]+)\/favorites$/, pages.favorites],
  [/^\/u\/([^/]+)$/, pages.stream],
  [/^\/photos\/([^/]+)$/, photoPage],
];

const main = document.getElementById('main');
let leaving = [];
let renderCount = 0;

/** Goes to `url` inside the app (history.pushState) and renders it. */
export function navigate(url, { replace: replaceState = false } = {}) {
  if (replaceState) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  render();
}

function matchRoute(path) {
  for (const [re, page, auth] of ROUTES) {
    const m = re.exec(path);
    if (!m) continue;
    try {
      return { page, auth, params: m.slice(1).map(decodeURIComponent) };
    } catch {
      return null; // a malformed escape (`/u/%E0`): not found, not a blank page
    }
  }
  return null;
}

/** The path and query last rendered: a change of the #hash alone re-renders nothing. */
let renderedPath = null;
const pathOf = (u) => u.pathname + u.search;

async function render() {
  for (const fn of leaving) { try { fn(); } catch { /* ignore */ } }
  leaving = [];
  const n = ++renderCount;
  const url = new URL(location.href);
  renderedPath = pathOf(url);
  const route = matchRoute(url.pathname);
  main.replaceChildren();
  main.dataset.state = 'loading';
  markCurrentNav(url.pathname);
  const ctx = {
    main,
    params: route ? route.params : [],
    query: url.searchParams,
    /** Goes elsewhere, but only while this page is still shown (late async work must not). */
    navigate: (to, opts) => { if (n === renderCount) navigate(to, opts); },
    signedIn: (next) => signedIn(next, n === renderCount),
    /**
     * Registers cleanup (timers, observers, listeners) for when the page is left.
     * Registered from a page already left (late async work), it runs at once.
     */
    onLeave: (fn) => { if (n === renderCount) leaving.push(fn); else fn(); },
    /** Whether this page is still the one shown (async work checks before touching the DOM). */
    live: () => n === renderCount,
    title: (t) => { if (n === renderCount) document.title = t ? `${t} · photostream` : 'photostream'; },
    ready: () => { if (n === renderCount) main.dataset.state = 'ready'; },
    notFound: () => { if (n === renderCount) notFound(ctx); },
  };
  if (!route) return notFound(ctx);
  if (route.auth && !session.signedIn) {
    return navigate(`/signin?next=${encodeURIComponent(url.pathname + url.search)}`, { replace: true });
  }
  try {
    await route.page(ctx);
  } catch (e) {
    if (!ctx.live()) return;
    if (e.status === 404) return notFound(ctx);
    replace(main, h('h1', { text: 'Something went wrong' }), message(e.message || String(e), 'error'));
    ctx.ready();
  }
  if (renderCount > 1 && ctx.live()) {
    const h1 = main.querySelector('h1');
    if (h1) { h1.tabIndex = -1; h1.focus({ preventScroll: true }); }
    window.scrollTo(0, 0);
  }
}

function notFound(ctx) {
  ctx.title('Not found');
  replace(main,
    h('h1', { text: 'Not found' }),
    h('p', { text: 'There is nothing here, or you may not see it.' }),
    h('p', {}, h('a', { href: '/', text: 'Go to the front page' })));
  main.dataset.notfound = '1';
  ctx.onLeave(() => delete main.dataset.notfound);
  ctx.ready();
}

// ---- header -------------------------------------------------------------

/** A bell outline as inline SVG (no icon font, no emoji font needed). */
function bellIcon() {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  for (const d of ['M18 8a6 6 0 0 0-12 0c0 7-3 9-3 9h18s-3-2-3-9', 'M13.7 21a2 2 0 0 1-3.4 0']) {
    const path = document.createElementNS(ns, 'path');
    path.setAttribute('d', d);
    svg.append(path);
  }
  return svg;
}

function navLink(href, text, extra = {}) {
  return h('a', { href, text, class: 'nav-link', ...extra });
}

function markCurrentNav(path) {
  for (const a of document.querySelectorAll('#site-nav a')) {
    if (a.getAttribute('href') === path) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

async function signOut() {
  try { await api('POST', '/v1/sessions/logout', undefined, { noRedirect: true }); } catch { /* gone already */ }
  session.clear();
  stopStream();
  renderHeader();
  navigate('/signin');
}

export function renderHeader() {
  const header = document.getElementById('site-header');
  const q = new URL(location.href).searchParams.get('q') || '';
  const search = h('form', { class: 'search', role: 'search', action: '/search', method: 'get' },
    h('label', { for: 'search-q', class: 'visually-hidden', text: 'Search photos' }),
    h('input', { id: 'search-q', name: 'q', type: 'search', placeholder: 'Search photos', value: q, required: true }),
    h('button', { type: 'submit', text: 'Search' }));
  search.addEventListener('submit', (e) => {
    e.preventDefault();
    const value = search.elements.q.value.trim();
    if (value) navigate(`/search?q=${encodeURIComponent(value)}`);
  });
  const links = [navLink('/explore', 'Explore')];
  let account;
  if (session.signedIn) {
    const me = session.username;
    links.unshift(navLink('/feed', 'Feed'));
    links.push(navLink('/upload', 'Upload'), navLink('/groups', 'Groups'), navLink('/stats', 'Stats'));
    const mod = navLink('/moderation', 'Moderation', { hidden: true, id: 'nav-moderation' });
    links.push(mod);
    isModerator().then((yes) => { mod.hidden = !yes; });
    const bell = h('a', { href: '/notifications', id: 'bell', class: 'bell', 'aria-label': 'Notifications, 0 unread' },
      bellIcon(),
      h('span', { class: 'bell-count', hidden: true, text: '0' }));
    account = [bell,
      navLink(`/u/${encodeURIComponent(me)}`, me, { class: 'nav-link me' }),
      navLink('/settings/tokens', 'Tokens'),
      h('button', { type: 'button', class: 'link-button', text: 'Sign out', onclick: signOut })];
  } else {
    links.push(navLink('/groups', 'Groups'));
    account = [navLink('/signin', 'Sign in'), navLink('/signup', 'Sign up', { class: 'nav-link button-like' })];
  }
  replace(header,
    h('a', { href: '/', class: 'brand', text: 'photostream' }),
    h('nav', { id: 'site-nav', 'aria-label': 'Main' }, links),
    search,
    h('div', { class: 'account' }, account));
  markCurrentNav(location.pathname);
}

/** `next` as a path on this site; anything else (`//evil.example`, `/\evil.example`, `javascript:`) is '/'. */
export function safeNext(next) {
  if (!next) return '/';
  try {
    const u = new URL(next, location.origin);
    return u.origin === location.origin ? u.pathname + u.search + u.hash : '/';
  } catch {
    return '/';
  }
}

/** Called after sign-in: header, live stream, then (unless the user went elsewhere meanwhile) the page asked for. */
export function signedIn(next, go = true) {
  renderHeader();
  startStream();
  if (go) navigate(safeNext(next));
}

// ---- keyboard shortcuts ---------------------------------------------------

const SHORTCUTS = [
  ['?', 'Show this list'],
  ['/', 'Focus the search box'],
  ['←  →', 'Previous / next photo (on a photo page)'],
  ['f', 'Favorite or unfavorite (on a photo page)'],
  ['Esc', 'Close this dialog'],
];

function shortcutsDialog() {
  let dlg = document.getElementById('shortcuts');
  if (dlg) return dlg;
  dlg = h('dialog', { id: 'shortcuts', 'aria-labelledby': 'shortcuts-title' },
    h('h2', { id: 'shortcuts-title', text: 'Keyboard shortcuts' }),
    h('dl', { class: 'shortcuts' }, SHORTCUTS.map(([k, d]) => [h('dt', {}, h('kbd', { text: k })), h('dd', { text: d })])),
    h('form', { method: 'dialog' }, h('button', { type: 'submit', text: 'Close' })));
  document.body.append(dlg);
  return dlg;
}

document.addEventListener('keydown', (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey || typing(e)) return;
  if (e.key === '?') {
    e.preventDefault();
    const dlg = shortcutsDialog();
    if (!dlg.open) dlg.showModal();
  } else if (e.key === '/') {
    e.preventDefault();
    document.getElementById('search-q')?.focus();
  }
});

// ---- links: plain left clicks stay in the app ------------------------------

document.addEventListener('click', (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = e.target.closest('a[href]');
  if (!a || a.target || a.hasAttribute('download')) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || /^\/(v1|media)\//.test(url.pathname)) return;
  // Same page, another #hash (the skip link): the browser scrolls and moves focus; nothing re-renders.
  if (url.hash && pathOf(url) === pathOf(location)) return;
  e.preventDefault();
  if (url.href !== location.href) navigate(url.pathname + url.search + url.hash);
});

// Back/forward re-renders, except between entries that differ only in the #hash.
window.addEventListener('popstate', () => { if (pathOf(location) !== renderedPath) render(); });
window.addEventListener('ps:unauthorized', () => {
  session.clear();
  stopStream();
  renderHeader();
  if (location.pathname !== '/signin') {
    navigate(`/signin?next=${encodeURIComponent(location.pathname + location.search)}`, { replace: true });
  }
});

renderHeader();
startStream();
render();
