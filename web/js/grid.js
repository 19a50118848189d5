// The justified thumbnail grid: rows are filled from each photo's aspect
// ratio and stretched to the container width. Pages arrive through the
// keyset cursor (infinite scroll via IntersectionObserver); each page only
// lays out the rows it touches, so a long library never re-lays everything.
// Photos still `processing` show a placeholder and are re-polled until ready.

import { h, replace, message } from './dom.js';
import { get, enc } from './api.js';

const GAP = 4;
const POLL_MS = 2000;

/** The image URL a grid tile shows: the display rendition when there is one, else the thumbnail. */
export function tileSrc(photo) {
  return photo.urls?.display || photo.urls?.thumbnail || null;
}

/** Whether a photo has nothing to show yet (and should be re-polled). */
export function stillProcessing(photo) {
  return photo.status === 'processing' || !tileSrc(photo);
}

export function photoLabel(photo) {
  return photo.title || photo.file_name || 'Untitled photo';
}

/** Remembers the list a photo was opened from, for Left/Right on the photo page. */
export function rememberList(ids) {
  sessionStorage.setItem('psNav', JSON.stringify({ ids, from: location.pathname + location.search }));
}

/**
 * photoGrid(ctx, {load, emptyText}) → element.
 * `load(cursor)` resolves to `{items: [{photo, caption}], next}`.
 */
export function photoGrid(ctx, { load, emptyText = 'No photos here yet.' }) {
  const rows = h('div', { class: 'grid-rows' });
  const status = h('div', { class: 'grid-status', 'aria-live': 'polite' });
  const sentinel = h('div', { class: 'grid-sentinel', 'aria-hidden': 'true' });
  const root = h('section', { class: 'grid', 'aria-label': 'Photos' }, rows, status, sentinel);

  const tiles = []; // {photo, el, ratio}
  let partialFrom = 0; // index of the first tile in the unfinished last row
  let partialRow = null;
  let next = null;
  let loading = false;
  let done = false;
  let firstLoad = true;
  const pending = new Map(); // id -> tile, photos being re-polled

  function targetHeight() {
    return window.innerWidth < 600 ? 110 : 190;
  }

  /** Lays out rows from tile index `from` on; the last, unfinished row keeps the target height. */
  function layout(from) {
    const width = rows.clientWidth || root.clientWidth || 800;
    const target = targetHeight();
    if (partialRow) { partialRow.remove(); partialRow = null; }
    let row = [];
    let ratios = 0;
    const emit = (items, height, partial) => {
      const el = h('div', { class: 'grid-row' });
      for (const t of items) {
        t.el.style.width = `${Math.floor(t.ratio * height)}px`;
        t.el.style.height = `${Math.floor(height)}px`;
        el.append(t.el);
      }
      rows.append(el);
      if (partial) partialRow = el;
    };
    for (let i = from; i < tiles.length; i++) {
      row.push(tiles[i]);
      ratios += tiles[i].ratio;
      const natural = ratios * target + GAP * (row.length - 1);
      if (natural >= width) {
        emit(row, (width - GAP * (row.length - 1)) / ratios, false);
        row = [];
        ratios = 0;
        partialFrom = i + 1;
      }
    }
    if (row.length) emit(row, target, true);
  }

  function relayoutAll() {
    rows.replaceChildren();
    partialRow = null;
    partialFrom = 0;
    layout(0);
  }

  function tileBody(t) {
    const p = t.photo;
    const label = photoLabel(p);
    if (stillProcessing(p)) {
      t.el.classList.add('tile-processing');
      t.el.setAttribute('aria-label', `${label} (processing)`);
      return [h('span', { class: 'tile-wait', text: 'Processing…' })];
    }
    t.el.classList.remove('tile-processing');
    t.el.removeAttribute('aria-label');
    const img = h('img', { src: tileSrc(p), alt: label, loading: 'lazy', decoding: 'async' });
    // Signed URLs expire: on a load error fetch the photo once more for fresh ones.
    img.addEventListener('error', async () => {
      if (img.dataset.retried) return;
      img.dataset.retried = '1';
      try {
        const fresh = await get(`/v1/photos/${enc(p.id)}`);
        if (tileSrc(fresh)) img.src = tileSrc(fresh);
      } catch { /* gone or hidden: leave the broken tile */ }
    });
    const badges = [];
    if (p.status === 'under_review' || p.status === 'rejected') badges.push(h('span', { class: 'badge', text: p.status.replace('_', ' ') }));
    if (p.visibility && p.visibility !== 'public') badges.push(h('span', { class: 'badge', text: p.visibility }));
    return [img, badges, t.caption ? h('span', { class: 'tile-caption', text: t.caption }) : null];
  }

  function makeTile(item) {
    const p = item.photo;
    const ratio = Math.min(4, Math.max(0.25, (p.width > 0 && p.height > 0) ? p.width / p.height : 1));
    const el = h('a', { class: 'tile', href: `/photos/${enc(p.id)}`, dataset: { id: p.id, status: p.status } });
    const t = { photo: p, el, ratio, caption: item.caption };
    replace(el, tileBody(t));
    el.addEventListener('click', () => rememberList(tiles.map((x) => x.photo.id)));
    if (stillProcessing(p)) pending.set(p.id, t);
    return t;
  }

  async function poll() {
    for (const [id, t] of [...pending]) {
      if (!ctx.live()) return;
      try {
        const fresh = await get(`/v1/photos/${enc(id)}`);
        if (!stillProcessing(fresh)) {
          pending.delete(id);
          t.photo = fresh;
          t.el.dataset.status = fresh.status;
          replace(t.el, tileBody(t));
        }
      } catch (e) {
        if (e.status === 404) { pending.delete(id); t.el.classList.add('tile-gone'); }
      }
    }
  }
  const pollTimer = setInterval(() => { if (pending.size) poll(); }, POLL_MS);

  async function loadMore() {
    if (loading || done || !ctx.live()) return;
    loading = true;
    replace(status, message('Loading…'));
    try {
      const page = await load(next);
      if (!ctx.live()) return; // left meanwhile: `finally` still clears `loading`
      const added = page.items.map(makeTile);
      tiles.push(...added);
      layout(partialFrom);
      next = page.next || null;
      done = !next;
      replace(status, done && !tiles.length ? message(emptyText) : null);
    } catch (e) {
      done = true;
      if (!ctx.live()) return;
      replace(status, message(e.message, 'error'));
      if (e.status === 404 && ctx.notFound) ctx.notFound();
    } finally {
      loading = false;
      if (firstLoad) { firstLoad = false; ctx.ready(); }
    }
    // The observer fires on changes only: keep going while the end is in view
    // (a page already left has a detached sentinel at top 0: it must not load on).
    if (!done && ctx.live() && sentinel.getBoundingClientRect().top < window.innerHeight + 600) loadMore();
  }

  const observer = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) loadMore();
  }, { rootMargin: '600px 0px' });
  observer.observe(sentinel);

  let lastWidth = 0;
  const resize = new ResizeObserver(() => {
    const w = rows.clientWidth;
    if (w && Math.abs(w - lastWidth) > 1) { lastWidth = w; relayoutAll(); }
  });
  resize.observe(rows);

  ctx.onLeave(() => { observer.disconnect(); resize.disconnect(); clearInterval(pollTimer); });
  queueMicrotask(loadMore);
  return root;
}

/** A loader over a keyset-paginated photo list endpoint. */
export function pagedPhotos(path, query = {}, toItem = (photo) => ({ photo })) {
  return async (cursor) => {
    const page = await get(path, { limit: 30, ...query, previous_last: cursor || undefined });
    return { items: page.items.map(toItem), next: page.next };
  };
}
