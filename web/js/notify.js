// Live notifications: the unread count in the header bell, kept current by
// the server-sent event stream. EventSource cannot send an Authorization
// header, so the stream is read with fetch() and parsed here.

import { get, authHeaders, session } from './api.js';

let count = 0;
let controller = null;
let retryTimer = null;
const listeners = new Set();

/** Calls `fn(notification)` for every live notification; returns an unsubscribe function. */
export function onNotification(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function render() {
  const bell = document.getElementById('bell');
  if (!bell) return;
  const badge = bell.querySelector('.bell-count');
  badge.textContent = count > 99 ? '99+' : String(count);
  badge.hidden = count === 0;
  bell.setAttribute('aria-label', `Notifications, ${count} unread`);
  bell.dataset.count = String(count);
}

export function setUnread(n) {
  count = Math.max(0, n);
  render();
}

export function unread() { return count; }

/** Counts unread notifications from the newest page (the API has no count endpoint). */
export async function refreshUnread() {
  if (!session.signedIn) return setUnread(0);
  try {
    const page = await get('/v1/notifications', { limit: 100 }, { noRedirect: true });
    setUnread(page.items.filter((n) => !n.read).length);
  } catch { /* keep the old count */ }
}

/** Parses one SSE event block ("event: x\ndata: y") into {event, data}. */
function parseEvent(block) {
  let event = 'message';
  const data = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) continue; // comment / keep-alive
    const i = line.indexOf(':');
    const name = i < 0 ? line : line.slice(0, i);
    const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
    if (name === 'event') event = value;
    else if (name === 'data') data.push(value);
  }
  return { event, data: data.join('\n') };
}

async function connect(attempt) {
  controller = new AbortController();
  const { signal } = controller;
  let opened = false;
  try {
    const res = await fetch('/v1/notifications/stream', {
      headers: { Accept: 'text/event-stream', ...authHeaders() },
      signal,
      cache: 'no-store',
    });
    if (res.status === 401) { window.dispatchEvent(new CustomEvent('ps:unauthorized')); return; }
    if (!res.ok || !res.body) throw new Error(`stream ${res.status}`);
    opened = true;
    document.documentElement.dataset.stream = 'open';
    await refreshUnread(); // anything that arrived while we were not listening
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value.replace(/\r\n?/g, '\n');
      let cut;
      while ((cut = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        const { event, data } = parseEvent(block);
        if (event !== 'notification' || !data) continue;
        let n;
        try { n = JSON.parse(data); } catch { continue; }
        if (!n.read) setUnread(count + 1);
        for (const fn of listeners) fn(n);
      }
    }
  } catch (e) {
    if (signal.aborted) return;
  } finally {
    if (document.documentElement.dataset.stream === 'open') document.documentElement.dataset.stream = 'closed';
  }
  if (signal.aborted || !session.signedIn) return;
  // The server ends streams now and then (hourly, credential re-checks): reconnect with backoff.
  const delay = opened ? 1000 : Math.min(30000, 2000 * 2 ** Math.min(attempt, 4));
  retryTimer = setTimeout(() => connect(opened ? 0 : attempt + 1), delay);
}

let fallbackTimer = null;

export function startStream() {
  stopStream();
  if (!session.signedIn) return;
  refreshUnread();
  connect(0);
  // While the stream is down (the server allows a few per user; reloads can
  // hold slots for a while), the count is polled instead.
  fallbackTimer = setInterval(() => {
    if (document.documentElement.dataset.stream !== 'open') refreshUnread();
  }, 10000);
}

export function stopStream() {
  clearTimeout(retryTimer);
  clearInterval(fallbackTimer);
  if (controller) controller.abort();
  controller = null;
  delete document.documentElement.dataset.stream;
}
