// Pages: accounts (sign up / in, API tokens), photo lists (feed, explore,
// photostreams, albums, favorites, search), notifications and groups.

import { h, replace, append, field, message, timeAgo } from './dom.js';
import { api, get, session, enc } from './api.js';
import { photoGrid, pagedPhotos } from './grid.js';
import { setUnread, refreshUnread, onNotification } from './notify.js';

/** A form whose submit runs `action(form)`, disabling the button and showing errors in `out`. */
function asyncForm(attrs, children, action) {
  const out = h('div', { class: 'form-out', 'aria-live': 'polite' });
  const form = h('form', attrs, children, out);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const button = form.querySelector('button[type=submit]');
    if (button) button.disabled = true;
    replace(out);
    try {
      await action(form, out);
    } catch (err) {
      replace(out, message(err.message, 'error'));
    } finally {
      if (button) button.disabled = false;
    }
  });
  return form;
}

// ---- accounts ---------------------------------------------------------------

/** A username as the server stores it: trimmed, ASCII letters lower-cased ("Alice" and "alice" are one account). */
export function canonicalUsername(u) {
  return String(u).trim().replace(/[A-Z]+/g, (c) => c.toLowerCase());
}

async function signInWith(ctx, username, password, canonical = canonicalUsername(username)) {
  const s = await api('POST', '/v1/sessions', { username, password }, { noRedirect: true });
  // Stored as the server spells it, so `session.username === photo.owner` holds.
  session.set(s.token, canonical);
  ctx.signedIn(ctx.query.get('next'));
}

function credentialsPage(ctx, { title, submit, other, action }) {
  ctx.title(title);
  const user = field('Username', { name: 'username', autocomplete: 'username', required: true, maxlength: 40 });
  const pass = field('Password', {
    name: 'password', type: 'password', required: true,
    autocomplete: title === 'Sign up' ? 'new-password' : 'current-password',
  });
  const form = asyncForm({ class: 'card narrow' }, [user.wrap, pass.wrap, h('button', { type: 'submit', text: submit })],
    () => action(user.input.value.trim(), pass.input.value));
  replace(ctx.main, h('h1', { text: title }), form, h('p', {}, other));
  ctx.ready();
}

export function signin(ctx) {
  credentialsPage(ctx, {
    title: 'Sign in', submit: 'Sign in',
    other: ['New here? ', h('a', { href: '/signup', text: 'Create an account' })],
    action: (u, p) => signInWith(ctx, u, p),
  });
}

export function signup(ctx) {
  credentialsPage(ctx, {
    title: 'Sign up', submit: 'Create account',
    other: ['Have an account? ', h('a', { href: '/signin', text: 'Sign in' })],
    action: async (u, p) => {
      const made = await api('POST', '/v1/users', { username: u, password: p }, { noRedirect: true });
      await signInWith(ctx, u, p, made?.username || canonicalUsername(u));
    },
  });
}

export async function tokens(ctx) {
  ctx.title('API tokens');
  const list = h('ul', { class: 'plain-list', id: 'token-list' });
  const shown = h('div', { 'aria-live': 'polite' });
  async function refresh() {
    const page = await get('/v1/tokens');
    if (!ctx.live()) return;
    replace(list, page.items.length ? null : h('li', { text: 'No tokens yet.' }),
      page.items.map((t) => h('li', { class: 'row', dataset: { id: t.id } },
        h('span', { class: 'grow' }, h('strong', { text: t.name }), ` — ${t.scopes.join(', ')} · created `, timeAgo(t.created_at)),
        t.revoked
          ? h('span', { class: 'badge', text: 'revoked' })
          : h('button', {
            type: 'button', text: 'Revoke', 'aria-label': `Revoke token ${t.name}`,
            onclick: async (e) => {
              e.target.disabled = true;
              try { await api('DELETE', `/v1/tokens/${enc(t.id)}`); await refresh(); } catch (err) { replace(shown, message(err.message, 'error')); }
            },
          }))));
  }
  const name = field('Token name', { name: 'name', required: true, maxlength: 100 });
  const scopes = h('fieldset', {}, h('legend', { text: 'Scopes' }),
    ['read', 'download', 'write'].map((s) => h('label', { class: 'check' },
      h('input', { type: 'checkbox', name: 'scope', value: s, checked: s === 'read' }), ` ${s}`)));
  const form = asyncForm({ class: 'card' }, [name.wrap, scopes, h('button', { type: 'submit', text: 'Create token' })], async (f) => {
    const chosen = [...f.querySelectorAll('input[name=scope]:checked')].map((i) => i.value);
    const t = await api('POST', '/v1/tokens', { name: name.input.value.trim(), scopes: chosen });
    f.reset();
    replace(shown, h('div', { class: 'card notice', role: 'status' },
      h('p', { text: 'Your new token. Copy it now: it is shown only once.' }),
      h('code', { class: 'secret', id: 'new-token', text: t.token })));
    await refresh();
  });
  replace(ctx.main, h('h1', { text: 'Personal API tokens' }),
    h('p', { text: 'Tokens let programs (such as the bulk uploader) act as you.' }),
    form, shown, h('h2', { text: 'Your tokens' }), list);
  await refresh();
  if (!ctx.live()) return;
  ctx.ready();
}

// ---- photo lists --------------------------------------------------------------

function listPage(ctx, title, intro, load, emptyText) {
  ctx.title(title);
  replace(ctx.main, h('h1', { text: title }), intro, photoGrid(ctx, { load, emptyText }));
}

export function home(ctx) {
  return session.signedIn ? feed(ctx) : explore(ctx);
}

export function feed(ctx) {
  listPage(ctx, 'Your feed', h('p', { class: 'muted', text: 'Your photos and those of people you follow.' }),
    pagedPhotos('/v1/feed'), 'Nothing yet: upload a photo or follow someone.');
}

export function explore(ctx) {
  listPage(ctx, 'Explore', h('p', { class: 'muted', text: 'Trending and recommended public photos, with why each was picked.' }),
    pagedPhotos('/v1/explore', {}, (item) => ({ photo: item.photo, caption: item.reason })), 'Nothing to explore yet.');
}

export async function stream(ctx) {
  const [username] = ctx.params;
  const mine = canonicalUsername(username) === session.username;
  const links = h('p', { class: 'subnav' },
    h('a', { href: `/u/${enc(username)}/albums`, text: 'Albums' }), ' · ',
    h('a', { href: `/u/${enc(username)}/favorites`, text: 'Favorites' }));
  if (session.signedIn && !mine) {
    // The API has no "am I following" read, so the button toggles optimistically.
    const btn = h('button', { type: 'button', 'aria-pressed': 'false', text: `Follow ${username}` });
    btn.addEventListener('click', async () => {
      const on = btn.getAttribute('aria-pressed') !== 'true';
      try {
        await api(on ? 'PUT' : 'DELETE', `/v1/users/${enc(username)}/follow`);
        btn.setAttribute('aria-pressed', String(on));
        btn.textContent = on ? `Following ${username}` : `Follow ${username}`;
      } catch (e) { append(links, message(e.message, 'error')); }
    });
    append(links, ' · ', btn);
  }
  listPage(ctx, mine ? 'Your photostream' : `${username}'s photostream`, links,
    pagedPhotos(`/v1/users/${enc(username)}/photos`), mine ? 'No photos yet: upload some.' : 'No photos to show.');
}

export function favorites(ctx) {
  const [username] = ctx.params;
  listPage(ctx, `${username}'s favorites`, h('p', {}, h('a', { href: `/u/${enc(username)}`, text: `Back to ${username}'s photostream` })),
    pagedPhotos(`/v1/users/${enc(username)}/favorites`), 'No favorites yet.');
}

export async function albums(ctx) {
  const [username] = ctx.params;
  ctx.title(`${username}'s albums`);
  const page = await get(`/v1/users/${enc(username)}/albums`);
  if (!ctx.live()) return;
  replace(ctx.main, h('h1', { text: `${username}'s albums` }),
    h('p', {}, h('a', { href: `/u/${enc(username)}`, text: `Back to ${username}'s photostream` })),
    page.items.length ? h('ul', { class: 'album-list' }, page.items.map((a) => h('li', { class: 'card' },
      h('a', { href: `/albums/${enc(a.id)}`, text: a.title || a.name }),
      a.description ? h('p', { text: a.description }) : null,
      h('p', { class: 'muted', text: `${a.name} · ${a.default_visibility}` }))))
      : message('No albums to show.'));
  ctx.ready();
}

export function album(ctx) {
  const [id] = ctx.params;
  const heading = h('h1', { text: 'Album' });
  ctx.title('Album');
  const load = pagedPhotos(`/v1/albums/${enc(id)}/photos`);
  const intro = h('p', { class: 'muted' });
  replace(ctx.main, heading, intro, photoGrid(ctx, {
    // The album's name and owner come with its photos.
    load: async (cursor) => {
      const page = await load(cursor);
      const first = page.items[0]?.photo;
      if (first && !cursor && ctx.live()) {
        heading.textContent = `Album “${first.album}”`;
        ctx.title(`Album ${first.album}`);
        replace(intro, 'By ', h('a', { href: `/u/${enc(first.owner)}`, text: first.owner }));
      }
      return page;
    },
    emptyText: 'This album has no photos you can see.',
  }));
}

export function search(ctx) {
  const q = ctx.query.get('q') || '';
  const input = document.getElementById('search-q');
  if (input) input.value = q;
  if (!q) {
    ctx.title('Search');
    replace(ctx.main, h('h1', { text: 'Search' }), message('Type words from a title or description in the search box.'));
    return ctx.ready();
  }
  listPage(ctx, `Search: ${q}`, h('p', { class: 'muted', text: 'Close spellings match too.' }),
    pagedPhotos('/v1/search', { q }), `No photos match “${q}”.`);
}

// ---- notifications --------------------------------------------------------------

function describe(n) {
  const actor = h('a', { href: `/u/${enc(n.actor)}`, text: n.actor });
  const photo = (text) => (n.photo ? h('a', { href: `/photos/${enc(n.photo)}`, text }) : text);
  switch (n.kind) {
    case 'comment': return [actor, ' commented on ', photo('your photo')];
    case 'favorite': return [actor, ' added ', photo('your photo'), ' to favorites'];
    case 'follow': return [actor, ' started following you'];
    case 'new_photo': return [actor, ' posted ', photo('a new photo')];
    case 'photo_rejected': return ['Moderators rejected ', photo('your photo'), n.note ? `: “${n.note}”` : ''];
    case 'comment_rejected': return ['Moderators removed your comment on ', photo('a photo'), n.note ? `: “${n.note}”` : ''];
    default: return [actor, ` · ${n.kind.replace(/_/g, ' ')} `, n.photo ? photo('photo') : null, n.note ? ` — “${n.note}”` : null];
  }
}

export async function notifications(ctx) {
  ctx.title('Notifications');
  const list = h('ul', { class: 'plain-list notif-list', id: 'notif-list' });
  const out = h('div', { 'aria-live': 'polite' });
  let next = null;
  const more = h('button', { type: 'button', text: 'Load more', hidden: true });

  function item(n) {
    const li = h('li', { class: n.read ? 'row' : 'row unread', dataset: { id: n.id } },
      h('span', { class: 'grow' }, describe(n), ' · ', timeAgo(n.created_at)));
    if (!n.read) {
      li.append(h('button', {
        type: 'button', text: 'Mark read', 'aria-label': 'Mark this notification read',
        onclick: async (e) => {
          try {
            await api('POST', '/v1/notifications/read', { ids: [n.id] });
            li.classList.remove('unread');
            e.target.remove();
            refreshUnread();
          } catch (err) { replace(out, message(err.message, 'error')); }
        },
      }));
    }
    return li;
  }
  async function load() {
    const page = await get('/v1/notifications', { limit: 30, previous_last: next || undefined });
    if (!ctx.live()) return;
    append(list, page.items.map(item));
    next = page.next;
    more.hidden = !next;
    if (!list.children.length) append(list, h('li', { class: 'empty', text: 'No notifications yet.' }));
  }
  more.addEventListener('click', () => load().catch((e) => replace(out, message(e.message, 'error'))));
  const all = h('button', {
    type: 'button', text: 'Mark all read',
    onclick: async () => {
      try {
        await api('POST', '/v1/notifications/read', { all: true });
        for (const li of list.querySelectorAll('.unread')) { li.classList.remove('unread'); li.querySelector('button')?.remove(); }
        setUnread(0);
      } catch (err) { replace(out, message(err.message, 'error')); }
    },
  });
  ctx.onLeave(onNotification((n) => { list.querySelector('.empty')?.remove(); list.prepend(item(n)); }));
  replace(ctx.main, h('h1', { text: 'Notifications' }), h('p', {}, all), out, list, more);
  await load();
  if (!ctx.live()) return;
  ctx.ready();
}

// ---- groups ----------------------------------------------------------------------

export function groups(ctx) {
  ctx.title('Groups');
  const parts = [h('h1', { text: 'Groups' }),
    h('p', { text: 'Groups pool photos around a theme. Open a group by the link someone shared, or start one.' })];
  const open = field('Group id', { name: 'id', required: true });
  parts.push(asyncForm({ class: 'card' }, [h('h2', { text: 'Open a group' }), open.wrap, h('button', { type: 'submit', text: 'Open' })],
    async () => ctx.navigate(`/groups/${enc(open.input.value.trim())}`)));
  if (session.signedIn) {
    const name = field('Name', { name: 'name', required: true, maxlength: 100 });
    const desc = field('Description', { name: 'description', rows: 2 }, 'textarea');
    parts.push(asyncForm({ class: 'card' }, [h('h2', { text: 'Start a group' }), name.wrap, desc.wrap, h('button', { type: 'submit', text: 'Create group' })],
      async () => {
        const g = await api('POST', '/v1/groups', { name: name.input.value.trim(), description: desc.input.value });
        ctx.navigate(`/groups/${enc(g.id)}`);
      }));
  }
  replace(ctx.main, parts);
  ctx.ready();
}

export async function group(ctx) {
  const [id] = ctx.params;
  const g = await get(`/v1/groups/${enc(id)}`);
  if (!ctx.live()) return;
  ctx.title(g.name);
  const out = h('div', { 'aria-live': 'polite' });
  const members = h('span', { text: `${g.members} member${g.members === 1 ? '' : 's'}` });
  const controls = [];
  if (session.signedIn) {
    const act = (method, text) => h('button', {
      type: 'button', text,
      onclick: async () => {
        try { await api(method, `/v1/groups/${enc(id)}/members`); replace(out, message(method === 'PUT' ? 'You joined.' : 'You left.')); } catch (e) { replace(out, message(e.message, 'error')); }
      },
    });
    const photo = field('Photo id or link to add', { name: 'photo', required: true });
    controls.push(h('p', {}, act('PUT', 'Join'), ' ', act('DELETE', 'Leave')),
      asyncForm({ class: 'card' }, [photo.wrap, h('button', { type: 'submit', text: 'Add to pool' })], async (f, o) => {
        const pid = photo.input.value.trim().split('/').pop();
        await api('POST', `/v1/groups/${enc(id)}/photos`, { photo: pid });
        replace(o, message('Added. Reload to see it in the pool.'));
      }));
  }
  replace(ctx.main, h('h1', { text: g.name }), g.description ? h('p', { text: g.description }) : null,
    h('p', { class: 'muted' }, members), controls, out,
    photoGrid(ctx, { load: pagedPhotos(`/v1/groups/${enc(id)}/photos`), emptyText: 'The pool is empty.' }));
}
