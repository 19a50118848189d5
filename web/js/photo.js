// The photo page: image, details, favorite, comments (live), owner controls
// (edit, visibility, viewer list, delete), download, report, and Left/Right
// through the list the user came from.

import { h, replace, append, field, message, timeAgo, formatBytes, typing } from './dom.js';
import { api, get, session, enc } from './api.js';
import { photoLabel } from './grid.js';
import { onNotification } from './notify.js';

const COMMENT_POLL_MS = 5000;

/** The biggest image the caller may see: the display rendition, else the original once ready, else the thumbnail. */
function imageSrc(p) {
  if (p.urls?.display) return p.urls.display;
  if (p.status !== 'processing' && p.urls?.original && /^(jpeg|jpg|png|gif|webp)$/i.test(p.format || 'jpeg')) return p.urls.original;
  return p.urls?.thumbnail || null;
}

/** Ids before and after `id` in the remembered list (or the owner's stream). */
async function neighbours(ctx, p) {
  let ids = [];
  try { ids = JSON.parse(sessionStorage.getItem('psNav') || '{}').ids || []; } catch { ids = []; }
  if (!ids.includes(p.id)) {
    const page = await get(`/v1/users/${enc(p.owner)}/photos`, { limit: 100 });
    ids = page.items.map((x) => x.id);
    if (ctx.live()) sessionStorage.setItem('psNav', JSON.stringify({ ids, from: `/u/${p.owner}` }));
  }
  const i = ids.indexOf(p.id);
  return { prev: i > 0 ? ids[i - 1] : null, next: i >= 0 && i < ids.length - 1 ? ids[i + 1] : null };
}

function metadataPanel(p) {
  const m = p.metadata || {};
  const rows = [
    ['Camera', m.camera], ['Lens', m.lens], ['Taken', m.taken_at], ['Location', m.location], ['License', m.license],
    ['Tags', (m.tags || []).length ? m.tags.join(', ') : null],
    ['Size', p.width && p.height ? `${p.width} × ${p.height}` : null],
    ['Format', p.format], ['File', p.file_name ? `${p.file_name} (${formatBytes(p.bytes)})` : null],
    ['Visibility', p.visibility], ['Status', p.status.replace('_', ' ')],
  ].filter(([, v]) => v !== null && v !== undefined && v !== '');
  return h('section', { class: 'card', 'aria-labelledby': 'meta-h' }, h('h2', { id: 'meta-h', text: 'Details' }),
    h('dl', { class: 'meta' }, rows.map(([k, v]) => [h('dt', { text: k }), h('dd', { text: String(v) })]),
      h('dt', { text: 'Uploaded' }), h('dd', {}, timeAgo(p.created_at))));
}

function albumLink(p) {
  const a = h('a', { href: `/u/${enc(p.owner)}/albums`, text: p.album });
  get(`/v1/users/${enc(p.owner)}/albums`).then((page) => {
    const found = page.items.find((x) => x.name === p.album);
    if (found) a.setAttribute('href', `/albums/${enc(found.id)}`);
  }).catch(() => {});
  return a;
}

function commentsSection(ctx, p) {
  const list = h('ol', { class: 'comments', id: 'comments' });
  const out = h('div', { 'aria-live': 'polite' });
  const me = session.username;
  let known = '';

  function render(items) {
    const sig = items.map((c) => c.id).join(',');
    if (sig === known) return;
    known = sig;
    replace(list, items.length ? null : h('li', { class: 'empty', text: 'No comments yet.' }),
      items.map((c) => h('li', { class: 'comment', dataset: { id: c.id } },
        h('p', { class: 'comment-head' }, h('a', { href: `/u/${enc(c.author)}`, text: c.author }), ' · ', timeAgo(c.created_at)),
        h('p', { class: 'comment-text', text: c.text }),
        me && (c.author === me || p.owner === me) ? h('button', {
          type: 'button', class: 'link-button', text: 'Delete', 'aria-label': `Delete comment by ${c.author}`,
          onclick: async () => {
            try { await api('DELETE', `/v1/comments/${enc(c.id)}`); await refresh(); } catch (e) { replace(out, message(e.message, 'error')); }
          },
        }) : null)));
  }
  async function refresh() {
    const items = [];
    let cursor;
    do {
      const page = await get(`/v1/photos/${enc(p.id)}/comments`, { limit: 100, previous_last: cursor });
      items.push(...page.items);
      cursor = page.next;
    } while (cursor && items.length < 1000);
    if (ctx.live()) render(items);
  }

  const parts = [h('h2', { id: 'comments-h', text: 'Comments' }), list, out];
  if (session.signedIn) {
    const text = field('Add a comment', { name: 'text', rows: 3, required: true, maxlength: 2000 }, 'textarea');
    const form = h('form', { class: 'comment-form' }, text.wrap, h('button', { type: 'submit', text: 'Post comment' }));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const button = form.querySelector('button');
      button.disabled = true;
      try {
        await api('POST', `/v1/photos/${enc(p.id)}/comments`, { text: text.input.value });
        form.reset();
        replace(out);
        await refresh();
      } catch (err) {
        replace(out, message(err.message, 'error'));
      } finally { button.disabled = false; }
    });
    parts.push(form);
  } else {
    parts.push(h('p', {}, h('a', { href: `/signin?next=/photos/${enc(p.id)}`, text: 'Sign in' }), ' to comment.'));
  }
  return { el: h('section', { class: 'card', 'aria-labelledby': 'comments-h' }, parts), refresh };
}

function ownerControls(ctx, current, onChange) {
  const p = current();
  const out = h('div', { 'aria-live': 'polite' });
  const title = field('Title', { name: 'title', value: p.title, maxlength: 200 });
  const desc = field('Description', { name: 'description', rows: 3, value: p.description }, 'textarea');
  const album = field('Album', { name: 'album', value: p.album });
  const edit = h('form', { class: 'stack' }, title.wrap, desc.wrap, album.wrap, h('button', { type: 'submit', text: 'Save changes' }));
  edit.addEventListener('submit', async (e) => {
    e.preventDefault();
    replace(out);
    try {
      const body = { title: title.input.value, description: desc.input.value };
      if (album.input.value.trim() && album.input.value.trim() !== current().album) body.album = album.input.value.trim();
      const saved = await api('PATCH', `/v1/photos/${enc(p.id)}`, body);
      if (!ctx.live()) return;
      onChange(saved);
      replace(out, message('Saved.'));
    } catch (err) { replace(out, message(err.message, 'error')); }
  });

  const vis = field('Visibility', { name: 'visibility' }, 'select',
    [['public', 'Public: everyone'], ['shared', 'Shared: only the people listed'], ['private', 'Private: only you']]);
  vis.input.value = p.visibility;
  const viewers = field('People who may see it (usernames, comma separated)', { name: 'viewers', rows: 2 }, 'textarea');
  viewers.wrap.hidden = p.visibility !== 'shared';
  vis.input.addEventListener('change', () => { viewers.wrap.hidden = vis.input.value !== 'shared'; });
  if (p.visibility === 'shared') {
    get(`/v1/photos/${enc(p.id)}/viewers`).then((v) => { viewers.input.value = v.usernames.join(', '); }).catch(() => {});
  }
  const access = h('form', { class: 'stack', id: 'access-form' }, vis.wrap, viewers.wrap, h('button', { type: 'submit', text: 'Update access' }));
  access.addEventListener('submit', async (e) => {
    e.preventDefault();
    replace(out);
    try {
      const v = vis.input.value;
      // Narrowing first: set the viewer list before widening to `shared`, so nobody sees it too early.
      if (v === 'shared') {
        const usernames = viewers.input.value.split(/[\s,]+/).filter(Boolean);
        const list = await api('PUT', `/v1/photos/${enc(p.id)}/viewers`, { usernames });
        viewers.input.value = list.usernames.join(', ');
      }
      if (v !== current().visibility) {
        const saved = await api('PATCH', `/v1/photos/${enc(p.id)}`, { visibility: v });
        if (!ctx.live()) return;
        onChange(saved);
      }
      replace(out, message(`Access updated: ${v}.`));
    } catch (err) { replace(out, message(err.message, 'error')); }
  });

  const del = h('button', {
    type: 'button', class: 'danger', text: 'Delete photo',
    onclick: async () => {
      if (!window.confirm('Delete this photo for good?')) return;
      try {
        await api('DELETE', `/v1/photos/${enc(p.id)}`);
        if (!ctx.live()) return;
        ctx.navigate(`/u/${enc(p.owner)}`);
      } catch (err) { replace(out, message(err.message, 'error')); }
    },
  });
  return h('section', { class: 'card', 'aria-labelledby': 'owner-h' },
    h('h2', { id: 'owner-h', text: 'Manage' }), edit, access, h('p', {}, del), out);
}

function reportForm(p) {
  const reason = field('Why should moderators look at this?', { name: 'reason', rows: 2, required: true, maxlength: 500 }, 'textarea');
  const out = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'stack' }, reason.wrap, h('button', { type: 'submit', text: 'Send report' }), out);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await api('POST', `/v1/photos/${enc(p.id)}/reports`, { reason: reason.input.value });
      replace(form, message('Thanks: moderators will review it.'));
    } catch (err) { replace(out, message(err.message, 'error')); }
  });
  return h('details', { class: 'card report' }, h('summary', { text: 'Report this photo' }), form);
}

/** The favorite toggle; its start state comes from the caller's newest favorites. */
function favoriteButton(p) {
  const btn = h('button', { type: 'button', id: 'favorite', 'aria-pressed': 'false', text: '☆ Favorite' });
  const show = (on) => { btn.setAttribute('aria-pressed', String(on)); btn.textContent = on ? '★ Favorited' : '☆ Favorite'; };
  get(`/v1/users/${enc(session.username)}/favorites`, { limit: 100 })
    .then((page) => show(page.items.some((x) => x.id === p.id))).catch(() => {});
  btn.addEventListener('click', async () => {
    const on = btn.getAttribute('aria-pressed') !== 'true';
    try { await api(on ? 'PUT' : 'DELETE', `/v1/photos/${enc(p.id)}/favorite`); show(on); } catch (e) { btn.after(message(e.message, 'error')); }
  });
  return btn;
}

export async function photoPage(ctx) {
  const [id] = ctx.params;
  let p = await get(`/v1/photos/${enc(id)}`);
  if (!ctx.live()) return;
  const mine = session.username === p.owner;
  const figure = h('figure', { class: 'photo-figure' });
  const heading = h('h1', { id: 'photo-title' });
  const descEl = h('p', { class: 'photo-desc' });
  const metaSlot = h('div');

  function show(photo) {
    p = photo;
    ctx.title(photoLabel(p));
    heading.textContent = photoLabel(p);
    descEl.textContent = p.description || '';
    const src = imageSrc(p);
    const img = figure.querySelector('img');
    if (src) {
      if (!img || img.dataset.for !== `${p.id}:${p.status}`) {
        const el = h('img', { src, alt: photoLabel(p), dataset: { for: `${p.id}:${p.status}` } });
        // An original the caller may not fetch (premium, busy) falls back to the thumbnail.
        el.addEventListener('error', () => { if (p.urls?.thumbnail && el.src !== new URL(p.urls.thumbnail, location.href).href) el.src = p.urls.thumbnail; });
        replace(figure, el);
      }
    } else {
      replace(figure, h('div', { class: 'photo-wait', role: 'status', text: 'Processing… the photo appears here when it is ready.' }));
    }
    replace(metaSlot, metadataPanel(p));
  }
  show(p);

  const { prev, next } = await neighbours(ctx, p).catch(() => ({}));
  if (!ctx.live()) return;
  const pager = h('nav', { class: 'pager', 'aria-label': 'Photo navigation' },
    prev ? h('a', { href: `/photos/${enc(prev)}`, rel: 'prev', text: '← Previous' }) : h('span'),
    h('button', { type: 'button', class: 'link-button', text: 'Keyboard shortcuts (?)', onclick: () => document.dispatchEvent(new KeyboardEvent('keydown', { key: '?' })) }),
    next ? h('a', { href: `/photos/${enc(next)}`, rel: 'next', text: 'Next →' }) : h('span'));

  const actions = h('div', { class: 'actions' });
  if (session.signedIn && !mine) actions.append(favoriteButton(p));
  // Originals: the photo's `urls.original` is set exactly when the caller may
  // fetch it (the owner, premium members, everyone with premium.free_originals).
  if (p.urls?.original) {
    actions.append(h('a', { class: 'button-like', href: p.urls.original, download: p.file_name || '', text: 'Download original' }));
  }
  const byline = h('p', { class: 'byline' }, 'By ', h('a', { href: `/u/${enc(p.owner)}`, text: p.owner }), ' in album ', albumLink(p));
  const comments = commentsSection(ctx, p);
  replace(ctx.main, h('article', { class: 'photo-page' },
    h('div', { class: 'photo-main' }, figure, pager),
    h('div', { class: 'photo-side' }, heading, byline, descEl, actions, metaSlot,
      mine ? ownerControls(ctx, () => p, show) : null,
      session.signedIn && !mine ? reportForm(p) : null,
      comments.el)));

  // ←/→ work as soon as the photo shows (a second → while the comments load goes on);
  // registered in the same step as the page appears, so never for a page already left.
  const onKey = (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || typing(e) || document.querySelector('dialog[open]')) return;
    if (e.key === 'ArrowLeft' && prev) ctx.navigate(`/photos/${enc(prev)}`);
    else if (e.key === 'ArrowRight' && next) ctx.navigate(`/photos/${enc(next)}`);
    else if (e.key === 'f') document.getElementById('favorite')?.click();
  };
  document.addEventListener('keydown', onKey);
  ctx.onLeave(() => document.removeEventListener('keydown', onKey));

  await comments.refresh().catch(() => {});
  // Left while the comments loaded (→ pressed twice): no live updates or timer for a page not shown.
  if (!ctx.live()) return;

  // Live: comments refresh on a notification about this photo, and by polling
  // (other people's comments on someone else's photo notify nobody here).
  // The photo is re-read too, so a processing photo appears and lost access shows at once.
  ctx.onLeave(onNotification((n) => { if (n.photo === p.id) comments.refresh().catch(() => {}); }));
  const timer = setInterval(async () => {
    try {
      const fresh = await get(`/v1/photos/${enc(p.id)}`);
      if (!ctx.live()) return;
      const path = (x) => (imageSrc(x) || '').split('?')[0]; // signed queries change on every read
      if (fresh.status !== p.status || fresh.visibility !== p.visibility || path(fresh) !== path(p)) show(fresh);
      await comments.refresh();
    } catch (e) {
      if (e.status === 404 && ctx.live()) ctx.notFound();
    }
  }, COMMENT_POLL_MS);
  ctx.onLeave(() => clearInterval(timer));

  ctx.ready();
}
