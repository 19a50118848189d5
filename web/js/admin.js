// Owner statistics (with an SVG chart of views per day) and the moderation
// console (review queue with decisions, audit log).

import { h, replace, append, message, timeAgo } from './dom.js';
import { api, get, session, enc, isModerator } from './api.js';

const SVG = 'http://www.w3.org/2000/svg';
function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

/** A bar chart of `days` ([{day, views}]) as SVG, with a text table for screen readers. */
export function viewsChart(days) {
  const W = 640, H = 220, left = 36, bottom = 28, top = 10;
  const max = Math.max(1, ...days.map((d) => d.views));
  const bw = (W - left - 8) / Math.max(1, days.length);
  const y = (v) => top + (H - top - bottom) * (1 - v / max);
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-labelledby': 'chart-title' },
    s('title', { id: 'chart-title' }, `Views per day, last ${days.length} days; peak ${max}`));
  for (const t of [0, Math.ceil(max / 2), max]) {
    svg.append(s('line', { x1: left, x2: W - 4, y1: y(t), y2: y(t), class: 'chart-grid' }),
      s('text', { x: left - 6, y: y(t) + 4, 'text-anchor': 'end', class: 'chart-label' }, t));
  }
  days.forEach((d, i) => {
    const x = left + i * bw + 1;
    svg.append(s('rect', { x, y: y(d.views), width: Math.max(1, bw - 2), height: Math.max(0, H - bottom - y(d.views)), class: 'chart-bar' },
      s('title', {}, `${d.day}: ${d.views} views`)));
    if (i % Math.ceil(days.length / 6) === 0) {
      svg.append(s('text', { x: x + bw / 2, y: H - 8, 'text-anchor': 'middle', class: 'chart-label' }, d.day.slice(5)));
    }
  });
  const table = h('details', {}, h('summary', { text: 'Views per day as a table' }),
    h('table', {}, h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: 'Day' }), h('th', { scope: 'col', text: 'Views' }))),
      h('tbody', {}, days.map((d) => h('tr', {}, h('td', { text: d.day }), h('td', { text: String(d.views) }))))));
  return h('figure', { class: 'card chart-wrap' }, svg, table);
}

/** The series padded to the last `n` days (UTC), days without views at 0. */
function lastDays(daily, n = 30) {
  const byDay = new Map(daily.map((d) => [d.day, d.views]));
  const out = [];
  const today = new Date();
  for (let i = n - 1; i >= 0; i--) {
    const day = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - i)).toISOString().slice(0, 10);
    out.push({ day, views: byDay.get(day) || 0 });
  }
  return out;
}

export async function statsPage(ctx) {
  ctx.title('Statistics');
  const st = await get(`/v1/users/${enc(session.username)}/stats`);
  if (!ctx.live()) return;
  const tile = (label, n) => h('div', { class: 'stat' }, h('span', { class: 'stat-n', text: String(n) }), h('span', { text: label }));
  replace(ctx.main, h('h1', { text: 'Your statistics' }),
    h('div', { class: 'stats' }, tile('photos', st.photos), tile('views', st.views), tile('favorites', st.favorites), tile('comments', st.comments)),
    h('h2', { text: 'Views per day' }),
    viewsChart(lastDays(st.daily)));
  ctx.ready();
}

// ---- moderation ----------------------------------------------------------------

function queueItem(item, onDecided) {
  const p = item.photo;
  const out = h('div', { 'aria-live': 'polite' });
  const noteId = `note-${item.id}`;
  const note = h('textarea', { id: noteId, rows: 2, maxlength: 1000 });
  const thumb = item.thumbnail_url || p?.urls?.thumbnail;
  const decide = (action, blockSimilar) => async (e) => {
    const buttons = e.target.closest('.decide').querySelectorAll('button');
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const body = { action, note: note.value.trim() || undefined };
      if (blockSimilar) body.block_similar = true;
      const decided = await api('POST', `/v1/moderation/queue/${enc(item.id)}/decision`, body);
      replace(out, message(`Decided: ${decided.status}.`));
      onDecided(item, decided);
    } catch (err) {
      replace(out, message(err.message, 'error'));
      buttons.forEach((b) => { b.disabled = false; });
    }
  };
  const scores = Object.entries(item.scores || {}).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(' · ');
  const label = p ? (p.title || p.file_name || 'Untitled photo') : 'Deleted photo';
  return h('li', { class: 'card mod-item', dataset: { id: item.id, photo: p?.id || '' } },
    h('div', { class: 'mod-body' },
      thumb ? h('img', { src: thumb, alt: label, class: 'mod-thumb' }) : h('div', { class: 'mod-thumb' }),
      h('div', { class: 'grow' },
        h('h2', {}, p ? h('a', { href: `/photos/${enc(p.id)}`, text: label }) : label),
        h('p', { class: 'muted' }, `${item.subject} · from ${item.source} · ${item.report_count} report(s) · `, timeAgo(item.created_at)),
        p ? h('p', {}, 'Owner: ', h('a', { href: `/u/${enc(p.owner)}`, text: p.owner })) : null,
        item.comment ? h('blockquote', { text: `${item.comment.author}: ${item.comment.text}` }) : null,
        item.reasons.length ? h('ul', {}, item.reasons.map((r) => h('li', { text: r }))) : null,
        scores ? h('p', { class: 'muted', text: `Scores: ${scores}` }) : null,
        item.note ? h('p', { text: `Note: ${item.note}` }) : null)),
    item.status === 'pending' ? h('div', { class: 'decide' },
      h('label', { for: noteId, text: 'Note (shown to the owner)' }), note,
      h('p', {},
        h('button', { type: 'button', text: 'Approve', onclick: decide('approve', false) }), ' ',
        h('button', { type: 'button', class: 'danger', text: 'Reject', onclick: decide('reject', false) }), ' ',
        item.subject === 'photo' ? h('button', { type: 'button', class: 'danger', text: 'Reject and block similar', onclick: decide('reject', true) }) : null))
      : h('p', { class: 'badge', text: item.status }),
    out);
}

export async function moderationPage(ctx) {
  ctx.title('Moderation');
  const allowed = await isModerator();
  if (!ctx.live()) return;
  if (!allowed) {
    replace(ctx.main, h('h1', { text: 'Moderation' }), message('Only moderators can see this page.', 'error'));
    return ctx.ready();
  }
  const status = ['pending', 'approved', 'rejected'].includes(ctx.query.get('status')) ? ctx.query.get('status') : 'pending';
  const tabs = h('nav', { class: 'subnav', 'aria-label': 'Queue filter' },
    ['pending', 'approved', 'rejected'].map((st) => h('a', {
      href: `/moderation?status=${st}`, text: st, 'aria-current': st === status ? 'page' : false,
    })));
  const list = h('ol', { class: 'plain-list', id: 'mod-queue' });
  const more = h('button', { type: 'button', text: 'Load more', hidden: true });
  let next = null;
  async function load() {
    const page = await get('/v1/moderation/queue', { status, limit: 20, previous_last: next || undefined });
    if (!ctx.live()) return;
    append(list, page.items.map((i) => queueItem(i, () => {})));
    next = page.next;
    more.hidden = !next;
    if (!list.children.length) list.append(h('li', { text: `No ${status} items.` }));
  }
  more.addEventListener('click', () => load().catch(() => {}));

  const audit = h('ol', { class: 'plain-list audit', id: 'audit-log' });
  async function loadAudit() {
    const page = await get('/v1/moderation/audit', { limit: 30 });
    if (!ctx.live()) return;
    replace(audit, page.items.length ? null : h('li', { text: 'No entries yet.' }),
      page.items.map((a) => h('li', { class: 'row' },
        h('span', { class: 'grow' }, `${a.actor || 'automatic'} · ${a.action}${a.block_similar ? ' (blocked similar)' : ''} · photo `,
          h('a', { href: `/photos/${enc(a.photo)}`, text: a.photo.slice(0, 8) }), a.note ? ` — “${a.note}”` : ''),
        timeAgo(a.at))));
  }
  replace(ctx.main, h('h1', { text: 'Moderation' }), tabs,
    h('h2', { text: `Review queue: ${status}` }), list, more,
    h('h2', { text: 'Audit log' }), audit);
  await load();
  if (!ctx.live()) return;
  await loadAudit().catch((e) => replace(audit, h('li', {}, message(e.message, 'error'))));
  if (!ctx.live()) return;
  ctx.ready();
}
