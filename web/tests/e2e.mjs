// End-to-end tests of the web app in a real Chromium (Debian's), driven by
// playwright-core. One line per scenario; exits non-zero if any failed.
//
//   node tests/e2e.mjs BASE_URL
//
// Env: PHOTOSTREAM_ADMIN_CMD  shell command prefix that makes a user a
//                             moderator (the username is appended); the
//                             moderation scenario FAILS when it is unset.
//      SCREENSHOT_DIR         where page screenshots go (default ../target/screenshots)
//      CHROMIUM               browser binary (default /usr/bin/chromium)

import { chromium } from 'playwright-core';
import { execSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';

const here = fileURLToPath(new URL('.', import.meta.url));
const BASE = (process.argv[2] || process.env.BASE_URL || '').replace(/\/$/, '');
if (!BASE) { console.error('usage: node tests/e2e.mjs BASE_URL'); process.exit(2); }
const SHOTS = resolve(process.env.SCREENSHOT_DIR || join(here, '../../target/screenshots'));
const FIXTURES = '/work/shared/fixtures/images';
const CAMERA_JPEG = join(FIXTURES, 'jpeg-exif-12mp-olympus.jpg'); // real camera file, 4032x3024
const ROTATED_JPEG = join(FIXTURES, 'jpeg-exif-orient6-landscape.jpg'); // stored 450x600, EXIF 6: upright 600x450
const AXE_SOURCE = readFileSync(join(here, '../node_modules/axe-core/axe.min.js'), 'utf8');
const PASSWORD = 'correct horse battery 42';
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const WAIT = 20000;

mkdirSync(SHOTS, { recursive: true });

// ---- a tiny runner ------------------------------------------------------------

const results = [];
const axeProblems = [];
const pageProblems = [];

async function scenario(name, fn, needs = []) {
  const t0 = Date.now();
  const missing = needs.filter((n) => !results.find((r) => r.name === n && r.ok));
  if (missing.length) {
    results.push({ name, ok: false });
    console.log(`FAIL  ${name}: needs the scenario(s) that failed: ${missing.join('; ')}`);
    return;
  }
  try {
    await fn();
    results.push({ name, ok: true });
    console.log(`ok    ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (e) {
    results.push({ name, ok: false });
    console.log(`FAIL  ${name}: ${(e && e.message ? e.message : String(e)).split('\n').slice(0, 6).join('\n      ')}`);
  }
}

function assert(cond, msg) { if (!cond) throw new Error(msg); }

// ---- helpers --------------------------------------------------------------------

const unique = (prefix) => `${prefix}${Date.now().toString(36).slice(-5)}${Math.random().toString(36).slice(2, 5)}`;

async function apiCall(method, path, { token, body } = {}) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(BASE + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not json */ }
  return { status: res.status, json };
}

async function apiUser(prefix) {
  const username = unique(prefix);
  const made = await apiCall('POST', '/v1/users', { body: { username, password: PASSWORD } });
  assert(made.status === 201, `sign-up of ${username} answered ${made.status} ${JSON.stringify(made.json)}`);
  return { username, token: await apiLogin(username) };
}

async function apiLogin(username) {
  const s = await apiCall('POST', '/v1/sessions', { body: { username, password: PASSWORD } });
  assert(s.status === 200, `sign-in of ${username} answered ${s.status}`);
  return s.json.token;
}

let browser;

/** A browser context (its own storage) and page; signed in when `user` is given. */
async function openAs(user, label) {
  const storageState = user ? {
    cookies: [],
    origins: [{ origin: BASE, localStorage: [{ name: 'psToken', value: user.token }, { name: 'psUser', value: user.username }] }],
  } : undefined;
  const context = await browser.newContext({ viewport: DESKTOP, storageState });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  page.on('dialog', (d) => d.accept());
  page.on('pageerror', (e) => pageProblems.push(`${label}: page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) pageProblems.push(`${label}: ${m.text()}`);
  });
  return page;
}

async function ready(page) {
  await page.waitForSelector('main[data-state="ready"]');
}

async function go(page, path) {
  await page.goto(BASE + path);
  await ready(page);
}

/** Screenshots at desktop and phone width (and desktop dark), and an axe pass at each. */
async function checkPage(page, name) {
  for (const [size, vp] of [['desktop', DESKTOP], ['phone', PHONE]]) {
    await page.setViewportSize(vp);
    await page.waitForTimeout(250); // the grid re-lays out on resize
    await page.screenshot({ path: join(SHOTS, `${name}-${size}.png`), fullPage: true });
    // addScriptTag would insert an inline <script>, which the app's CSP
    // (rightly) blocks; evaluating the file through the DevTools protocol is not subject to it.
    if (!(await page.evaluate(() => !!window.axe))) await page.evaluate(AXE_SOURCE);
    const found = await page.evaluate(async () => {
      const r = await window.axe.run(document, { resultTypes: ['violations'] });
      return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
    });
    for (const f of found) axeProblems.push(`${name} (${size}): ${f}`);
  }
  await page.setViewportSize(DESKTOP);
  // Dark theme (prefers-color-scheme): contrast is checked again.
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.screenshot({ path: join(SHOTS, `${name}-dark.png`) });
  const dark = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'], runOnly: ['color-contrast'] });
    return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
  });
  for (const f of dark) axeProblems.push(`${name} (dark): ${f}`);
  await page.emulateMedia({ colorScheme: 'light' });
}

/** Waits until the photo API says `id` is no longer processing. */
async function apiWaitReady(id, token) {
  const t0 = Date.now();
  for (;;) {
    const r = await apiCall('GET', `/v1/photos/${id}`, { token });
    if (r.status === 200 && r.json.status !== 'processing' && r.json.urls.thumbnail) return r.json;
    assert(Date.now() - t0 < 60000, `photo ${id} still not ready after 60 s (${r.status} ${r.json?.status})`);
    await new Promise((res) => setTimeout(res, 500));
  }
}

/** Uploads one file through the /upload page; returns {id, thumb, sentThumbnail}. */
async function uploadThroughPage(page, file, title, tags) {
  await go(page, '/upload');
  // Record the multipart field names the page sends (Playwright does not expose file bodies).
  await page.evaluate(() => {
    if (XMLHttpRequest.prototype.psWrapped) return;
    const send = XMLHttpRequest.prototype.send;
    XMLHttpRequest.prototype.psWrapped = true;
    XMLHttpRequest.prototype.send = function (body) {
      if (body instanceof FormData) window.psUploadParts = [...body.keys()];
      return send.call(this, body);
    };
  });
  await page.setInputFiles('#file-input', file);
  const item = page.locator('li.upload-item').last();
  await item.getByLabel('Title').fill(title);
  await item.getByLabel('Tags (comma separated)').fill(tags);
  await page.click('#start-upload');
  await page.waitForSelector('li.upload-item[data-state="done"], li.upload-item[data-state="failed"]', { timeout: 60000 });
  const parts = await page.evaluate(() => window.psUploadParts || []);
  const sentThumbnail = parts.includes('thumbnail');
  assert(parts.includes('file'), `no file part sent (parts: ${parts.join(',')})`);
  const state = await item.getAttribute('data-state');
  assert(state === 'done', `upload ended ${state}: ${await item.locator('.upload-status').innerText()}`);
  return { id: await item.getAttribute('data-photo'), thumb: await item.getAttribute('data-thumb'), sentThumbnail };
}

async function imageLoaded(locator) {
  await locator.waitFor();
  await locator.evaluate((img) => new Promise((res, rej) => {
    if (img.complete && img.naturalWidth > 0) return res();
    img.addEventListener('load', res, { once: true });
    img.addEventListener('error', () => rej(new Error(`image failed: ${img.src}`)), { once: true });
  }));
}

// ---- the scenarios ------------------------------------------------------------------

const S = {}; // state shared between scenarios

async function run() {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });

  await scenario('sign up in the browser', async () => {
    const page = await openAs(null, 'owner');
    await go(page, '/signup');
    S.owner = { username: unique('ann') };
    await page.getByLabel('Username').fill(S.owner.username);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.waitForURL((u) => u.pathname === '/');
    await page.getByRole('link', { name: S.owner.username }).waitFor();
    S.owner.token = await page.evaluate(() => localStorage.getItem('psToken'));
    assert(S.owner.token, 'no session token stored');
    S.ownerPage = page;
  });

  await scenario('upload a camera JPEG with a browser-made thumbnail', async () => {
    const up = await uploadThroughPage(S.ownerPage, CAMERA_JPEG, 'Harbour lighthouse at dusk', 'sea, evening');
    assert(up.thumb === 'client', `the page did not make a thumbnail (data-thumb=${up.thumb})`);
    assert(up.sentThumbnail === true, 'the upload request carried no thumbnail part');
    S.photo = up.id;
  }, ['sign up in the browser']);

  await scenario('the photo appears in the photostream once ready', async () => {
    const page = S.ownerPage;
    // Processing is quick on a test server, so the first list answer is
    // rewritten to say "processing" (no thumbnail yet): the page must show a
    // placeholder, re-poll the photo and swap the thumbnail in without a reload.
    const listPath = `/v1/users/${S.owner.username}/photos`;
    await page.route((u) => u.pathname === listPath, async (route) => {
      const res = await route.fetch();
      const body = await res.json();
      for (const p of body.items) if (p.id === S.photo) { p.status = 'processing'; p.urls.thumbnail = null; }
      await route.fulfill({ response: res, json: body });
    }, { times: 1 });
    await go(page, `/u/${S.owner.username}`);
    const tile = page.locator(`a.tile[data-id="${S.photo}"]`);
    await tile.waitFor();
    assert(await tile.evaluate((el) => el.classList.contains('tile-processing')), 'a processing photo shows no placeholder');
    await checkPage(page, 'photostream-processing');
    const img = tile.locator('img');
    await img.waitFor({ timeout: 60000 });
    await imageLoaded(img);
    assert(await img.getAttribute('alt') === 'Harbour lighthouse at dusk', 'thumbnail alt is not the title');
    assert(new URL(page.url()).pathname === `/u/${S.owner.username}`, 'the page reloaded');
  }, ['upload a camera JPEG with a browser-made thumbnail']);

  await scenario('upload queue: one at a time, cancel, a clear per-file failure', async () => {
    const page = S.ownerPage;
    await go(page, '/upload');
    await page.evaluate(() => {
      // Count uploads in flight at once.
      window.psInFlight = 0; window.psMaxInFlight = 0;
      const send = XMLHttpRequest.prototype.send;
      XMLHttpRequest.prototype.send = function (body) {
        window.psInFlight++; window.psMaxInFlight = Math.max(window.psMaxInFlight, window.psInFlight);
        // readyState 4 comes before the load event, whose handler starts the next upload.
        this.addEventListener('readystatechange', () => { if (this.readyState === 4) window.psInFlight--; });
        return send.call(this, body);
      };
    });
    await page.setInputFiles('#file-input', [join(FIXTURES, 'png-rgb.png'), join(FIXTURES, 'bad-text-renamed.jpg'),
      join(FIXTURES, 'jpeg-progressive.jpg'), join(FIXTURES, 'gif-static.gif')]);
    const items = page.locator('li.upload-item');
    assert(await items.count() === 4, 'four files should be queued');
    await items.nth(3).getByRole('button', { name: /^Cancel or remove/ }).click();
    assert(await items.nth(3).getAttribute('data-state') === 'cancelled', 'cancel of a queued file did nothing');
    await page.click('#start-upload');
    await page.waitForFunction(() => [...document.querySelectorAll('li.upload-item')].slice(0, 3)
      .every((li) => ['done', 'failed'].includes(li.dataset.state)), null, { timeout: 60000 });
    const states = await items.evaluateAll((lis) => lis.map((li) => li.dataset.state));
    assert(states.join() === 'done,failed,done,cancelled', `states are ${states.join()}`);
    const failure = await items.nth(1).locator('[role=alert]').innerText();
    assert(/^Failed: \S/.test(failure) && !/server answered/.test(failure), `failure message is "${failure}"`);
    assert(await page.evaluate(() => window.psMaxInFlight) === 1, 'more than one upload was in flight');
  }, ['sign up in the browser']);

  await scenario('search finds it by a misspelt title word', async () => {
    const page = S.ownerPage;
    const t0 = Date.now();
    for (;;) {
      await page.fill('#search-q', 'lighthuose');
      await page.press('#search-q', 'Enter');
      await page.waitForURL((u) => u.pathname === '/search' && u.searchParams.get('q') === 'lighthuose');
      await ready(page);
      if (await page.locator(`a.tile[data-id="${S.photo}"]`).count()) break;
      assert(Date.now() - t0 < 30000, 'search for "lighthuose" did not find the photo within 30 s');
      await page.waitForTimeout(1000);
      await go(page, '/');
    }
  }, ['the photo appears in the photostream once ready']);

  await scenario('open the photo page', async () => {
    const page = S.ownerPage;
    await page.locator(`a.tile[data-id="${S.photo}"]`).click();
    await page.waitForURL(`**/photos/${S.photo}`);
    await ready(page);
    assert((await page.locator('h1').innerText()) === 'Harbour lighthouse at dusk', 'wrong title');
    await imageLoaded(page.locator('.photo-figure img'));
    await page.locator('.meta').getByText('4032 × 3024').waitFor();
    // The owner may fetch the original: the link is the photo's urls.original.
    const own = (await apiCall('GET', `/v1/photos/${S.photo}`, { token: S.owner.token })).json;
    const link = page.getByRole('link', { name: 'Download original' });
    await link.waitFor();
    // Signed URLs carry their expiry (now + TTL, in seconds), so two fetches a
    // second apart differ in exp/sig: compare the object and the signee, and
    // check the page's own link still serves the original.
    const href = new URL(await link.getAttribute('href'), BASE);
    const want = new URL(own.urls.original, BASE);
    assert(href.pathname === want.pathname, `the download link is ${href.pathname}, urls.original is ${want.pathname}`);
    assert(href.searchParams.get('u') === want.searchParams.get('u'), 'the download link is signed for someone else');
    const got = await fetch(href);
    assert(got.status === 200, `the download link answered ${got.status}`);
    await got.arrayBuffer();
  }, ['search finds it by a misspelt title word']);

  await scenario('a capitalised username at sign-in and sign-up is the same account (owner controls show)', async () => {
    // The server lower-cases usernames; the app must store them as the server spells them.
    const page = await openAs(null, 'owner-capitalised');
    const typed = S.owner.username.toUpperCase();
    assert(typed !== S.owner.username, 'the test username has no letters to capitalise');
    await go(page, `/signin?next=${encodeURIComponent(`/photos/${S.photo}`)}`);
    await page.getByLabel('Username').fill(typed);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`**/photos/${S.photo}`);
    await ready(page);
    assert(await page.evaluate(() => localStorage.getItem('psUser')) === S.owner.username,
      `stored username is ${await page.evaluate(() => localStorage.getItem('psUser'))}, not ${S.owner.username}`);
    await page.getByRole('heading', { name: 'Manage' }).waitFor({ timeout: 5000 });
    await page.getByRole('link', { name: S.owner.username, exact: true }).first().waitFor();
    await page.context().close();
    // Sign-up as "Dee…": the server's answer names the account.
    const fresh = await openAs(null, 'signup-capitalised');
    const name = unique('Dee');
    await go(fresh, '/signup');
    await fresh.getByLabel('Username').fill(name);
    await fresh.getByLabel('Password').fill(PASSWORD);
    await fresh.getByRole('button', { name: 'Create account' }).click();
    await fresh.waitForURL((u) => u.pathname === '/');
    await ready(fresh);
    const stored = await fresh.evaluate(() => localStorage.getItem('psUser'));
    assert(stored === name.toLowerCase(), `stored username after sign-up is ${stored}, not ${name.toLowerCase()}`);
    await go(fresh, `/u/${name.toLowerCase()}`);
    assert((await fresh.locator('h1').innerText()) === 'Your photostream', 'a capitalised sign-up does not own its photostream');
    await fresh.context().close();
  }, ['open the photo page']);

  await scenario('router: bad escapes, foreign next=, same-page #hash links', async () => {
    const page = await openAs(null, 'router');
    // A malformed escape is "not found", not a blank page.
    await go(page, '/u/%E0');
    assert(await page.locator('main[data-notfound]').count(), '/u/%E0 does not show the not-found page');
    // The skip link moves to #main without re-rendering the page.
    await go(page, '/signin');
    await page.getByLabel('Username').fill('kept');
    await page.locator('.skip-link').focus();
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => location.hash === '#main');
    await page.waitForTimeout(300);
    assert(await page.getByLabel('Username').inputValue() === 'kept', 'the skip link re-rendered the page');
    // After sign-in, a next= that leaves the site goes to the front page instead.
    const user = await apiUser('eve');
    await go(page, `/signin?next=${encodeURIComponent('/\\evil.example/x')}`);
    await page.getByLabel('Username').fill(user.username);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((u) => u.pathname === '/');
    assert(new URL(page.url()).origin === new URL(BASE).origin, `sign-in went to ${page.url()}`);
    await page.context().close();
  }, ['sign up in the browser']);

  await scenario('another user comments; the owner sees the count rise live', async () => {
    const page = S.ownerPage;
    await page.waitForSelector('html[data-stream="open"]');
    const before = Number(await page.locator('#bell').getAttribute('data-count'));
    S.friend = await apiUser('bob');
    const friend = await openAs(S.friend, 'friend');
    S.friendPage = friend;
    await go(friend, `/photos/${S.photo}`);
    await friend.getByLabel('Add a comment').fill('Lovely light on the water!');
    await friend.getByRole('button', { name: 'Post comment' }).click();
    await friend.locator('#comments').getByText('Lovely light on the water!').waitFor();
    // Not premium, originals gated: the API gives no urls.original, so no link.
    const seen = (await apiCall('GET', `/v1/photos/${S.photo}`, { token: S.friend.token })).json;
    assert(seen.urls.original === null, 'a non-premium viewer was given the original');
    assert(await friend.getByRole('link', { name: 'Download original' }).count() === 0, 'a non-premium viewer is offered the original');
    await page.waitForFunction((n) => Number(document.getElementById('bell').dataset.count) > n, before, { timeout: 15000 });
    await page.locator('#comments').getByText('Lovely light on the water!').waitFor({ timeout: 15000 });
  }, ['open the photo page']);

  await scenario('upload without a browser thumbnail: the server makes it', async () => {
    const page = S.ownerPage;
    await page.evaluate(() => localStorage.setItem('psNoClientThumb', '1'));
    try {
      const up = await uploadThroughPage(page, ROTATED_JPEG, 'Rotated harbour crane', 'crane');
      assert(up.thumb === 'server' && up.sentThumbnail === false, `a thumbnail was sent (data-thumb=${up.thumb}, part=${up.sentThumbnail})`);
      S.photo2 = up.id;
      const p = await apiWaitReady(up.id, S.owner.token);
      assert(p.width === 600 && p.height === 450, `display size ${p.width}x${p.height}, expected upright 600x450`);
      await go(page, `/u/${S.owner.username}`);
      await imageLoaded(page.locator(`a.tile[data-id="${up.id}"] img`));
      // The tile may show the display rendition; the server-made thumbnail itself is checked here.
      assert(p.urls.thumbnail, 'the ready photo has no thumbnail URL');
      const size = await page.evaluate((src) => new Promise((res, rej) => {
        const i = new Image();
        i.onload = () => res([i.naturalWidth, i.naturalHeight]);
        i.onerror = () => rej(new Error(`thumbnail failed to load: ${src}`));
        i.src = src;
      }), p.urls.thumbnail);
      assert(size[0] === 50 && size[1] < 50, `server thumbnail is ${size.join('x')}, expected 50 wide and landscape`);
    } finally {
      await page.evaluate(() => localStorage.removeItem('psNoClientThumb'));
    }
  }, ['sign up in the browser']);

  await scenario('privacy: private, then shared with a list; a third user loses access at once', async () => {
    const owner = S.ownerPage;
    S.third = await apiUser('cy');
    const third = await openAs(S.third, 'third');
    S.thirdPage = third;
    await go(third, `/photos/${S.photo}`);
    const src = await third.locator('.photo-figure img').getAttribute('src');
    await go(owner, `/photos/${S.photo}`);
    const setAccess = async (visibility, viewers) => {
      await owner.getByLabel('Visibility').selectOption(visibility);
      if (viewers !== undefined) await owner.getByLabel('People who may see it (usernames, comma separated)').fill(viewers);
      await owner.getByRole('button', { name: 'Update access' }).click();
      await owner.getByText(`Access updated: ${visibility}.`).waitFor();
      const now = await apiCall('GET', `/v1/photos/${S.photo}`, { token: S.owner.token });
      assert(now.json?.visibility === visibility, `the API says ${now.json?.visibility}, not ${visibility}`);
    };
    // Private: the open page of the third user turns into "not found" by itself.
    await setAccess('private');
    await third.waitForSelector('main[data-notfound]', { timeout: 12000 });
    const old = await fetch(new URL(src, BASE));
    assert(old.status !== 200, `the old image URL still answers 200 after going private`);
    // Shared with the third user: they see it again; the friend does not.
    await setAccess('shared', S.third.username);
    await go(third, `/photos/${S.photo}`);
    assert(!(await third.locator('main[data-notfound]').count()), 'shared viewer cannot see the photo');
    await imageLoaded(third.locator('.photo-figure img'));
    await go(S.friendPage, `/photos/${S.photo}`);
    assert(await S.friendPage.locator('main[data-notfound]').count(), 'a user not on the list sees the shared photo');
    // Taken off the list (friend instead): the third user's open page loses it at once.
    await setAccess('shared', S.friend.username);
    await third.waitForSelector('main[data-notfound]', { timeout: 12000 });
    await go(S.friendPage, `/photos/${S.photo}`);
    assert(!(await S.friendPage.locator('main[data-notfound]').count()), 'the newly listed viewer cannot see the photo');
    await setAccess('public');
  }, ['another user comments; the owner sees the count rise live']);

  await scenario('keyboard: arrows walk the photostream, ? opens the shortcuts', async () => {
    const page = S.ownerPage;
    await go(page, `/u/${S.owner.username}`);
    await page.locator(`a.tile[data-id="${S.photo2}"] img`).waitFor();
    const ids = await page.locator('a.tile').evaluateAll((as) => as.map((a) => a.dataset.id));
    assert(ids.length >= 2, 'need two photos in the stream');
    await page.locator(`a.tile[data-id="${ids[0]}"]`).click();
    await page.waitForURL(`**/photos/${ids[0]}`);
    await ready(page);
    await page.locator('body').press('ArrowRight');
    await page.waitForURL(`**/photos/${ids[1]}`);
    await ready(page);
    await page.keyboard.press('ArrowLeft');
    await page.waitForURL(`**/photos/${ids[0]}`);
    await ready(page);
    await page.keyboard.press('?');
    const dlg = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
    await dlg.waitFor();
    await page.keyboard.press('Escape');
    await dlg.waitFor({ state: 'hidden' });
  }, ['upload without a browser thumbnail: the server makes it', 'the photo appears in the photostream once ready']);

  await scenario('quick double →: the second press wins; the page left behind stays gone', async () => {
    const page = S.ownerPage;
    await go(page, `/u/${S.owner.username}`);
    await page.locator(`a.tile[data-id="${S.photo2}"] img`).waitFor();
    const ids = await page.locator('a.tile').evaluateAll((as) => as.map((a) => a.dataset.id));
    assert(ids.length >= 3, `need three photos in the stream, have ${ids.length}`);
    const [a, b, c] = ids;
    const label = async (id) => {
      const r = await apiCall('GET', `/v1/photos/${id}`, { token: S.owner.token });
      return r.json.title || r.json.file_name || 'Untitled photo';
    };
    const titleB = await label(b);
    const titleC = await label(c);
    await page.locator(`a.tile[data-id="${a}"]`).click();
    await page.waitForURL(`**/photos/${a}`);
    await ready(page);
    // The middle photo's comments answer slowly, so the second → comes while it still loads.
    const slow = (u) => u.pathname === `/v1/photos/${b}/comments`;
    await page.route(slow, async (route) => { await new Promise((r) => setTimeout(r, 1500)); await route.continue().catch(() => {}); });
    let left = false;
    const stale = [];
    const onRequest = (req) => {
      const path = new URL(req.url()).pathname;
      if (left && (path === `/v1/photos/${b}` || path === `/v1/photos/${b}/comments`)) stale.push(path);
    };
    page.on('request', onRequest);
    try {
      await page.locator('body').press('ArrowRight');
      await page.waitForURL(`**/photos/${b}`);
      await page.waitForFunction((t) => document.getElementById('photo-title')?.textContent === t, titleB);
      assert(await page.locator('main[data-state="loading"]').count(), 'the middle photo was ready before its slow comments');
      await page.keyboard.press('ArrowRight');
      await page.waitForURL(`**/photos/${c}`);
      left = true;
      await ready(page);
      // Past the slow answer and one poll interval of the page left behind.
      await page.waitForTimeout(1500 + 5000 + 1000);
      assert(new URL(page.url()).pathname === `/photos/${c}`, `ended on ${page.url()}`);
      assert((await page.locator('#photo-title').innerText()) === titleC, `shows "${await page.locator('#photo-title').innerText()}", not "${titleC}"`);
      assert(await page.locator('#photo-title').count() === 1, 'two photo pages on screen');
      assert(!stale.length, `the page left behind still polls: ${stale.join(', ')}`);
      // One press moves one photo (no key handler left over from the middle page).
      await page.keyboard.press('ArrowLeft');
      await page.waitForURL(`**/photos/${b}`);
      await ready(page);
      await page.waitForTimeout(300);
      assert(new URL(page.url()).pathname === `/photos/${b}`, `← from the third photo ended on ${page.url()}`);
    } finally {
      page.off('request', onRequest);
      await page.unroute(slow);
    }
  }, ['keyboard: arrows walk the photostream, ? opens the shortcuts', 'upload queue: one at a time, cancel, a clear per-file failure']);

  await scenario('a moderator rejects a reported photo', async () => {
    const cmd = process.env.PHOTOSTREAM_ADMIN_CMD;
    assert(cmd, 'PHOTOSTREAM_ADMIN_CMD is not set: cannot make a moderator (e.g. "photostream admin --data-dir DIR grant-moderator")');
    const mod = await apiUser('mod');
    // The photostream binary reads every PHOTOSTREAM_* variable as config and
    // rejects unknown ones, so the command runs without this one.
    const env = { ...process.env };
    delete env.PHOTOSTREAM_ADMIN_CMD;
    execSync(`${cmd} ${mod.username}`, { stdio: 'pipe', env });
    mod.token = await apiLogin(mod.username);
    const mpage = await openAs(mod, 'moderator');
    S.modPage = mpage;
    // The friend reports the second photo.
    const friend = S.friendPage;
    await go(friend, `/photos/${S.photo2}`);
    await friend.getByText('Report this photo').click();
    await friend.getByLabel('Why should moderators look at this?').fill('This is not the harbour it claims to be');
    await friend.getByRole('button', { name: 'Send report' }).click();
    await friend.getByText('Thanks: moderators will review it.').waitFor();
    await go(mpage, '/moderation');
    await mpage.locator('#nav-moderation:visible').waitFor();
    const item = mpage.locator(`li.mod-item[data-photo="${S.photo2}"]`).first();
    for (let i = 0; i < 20 && !(await item.count()); i++) {
      const more = mpage.getByRole('button', { name: 'Load more' });
      if (await more.isVisible()) await more.click(); else { await go(mpage, '/moderation'); }
      await mpage.waitForTimeout(500);
    }
    await item.getByLabel('Note (shown to the owner)').fill('Misleading title');
    await item.getByRole('button', { name: 'Reject', exact: true }).click();
    await item.getByText('Decided: rejected.').waitFor();
    await go(friend, `/photos/${S.photo2}`);
    assert(await friend.locator('main[data-notfound]').count(), 'the rejected photo is still visible to other users');
    await go(S.ownerPage, `/photos/${S.photo2}`);
    await S.ownerPage.locator('.meta').getByText('rejected').waitFor();
    await go(mpage, '/moderation');
    await mpage.locator('#audit-log').getByText('Misleading title').first().waitFor();
  }, ['upload without a browser thumbnail: the server makes it', 'another user comments; the owner sees the count rise live']);

  await scenario('personal API tokens: create (shown once), list, revoke', async () => {
    const page = S.ownerPage;
    await go(page, '/settings/tokens');
    await page.getByLabel('Token name').fill('bulk uploader');
    await page.getByLabel('write').check();
    await page.getByRole('button', { name: 'Create token' }).click();
    const token = (await page.locator('#new-token').innerText()).trim();
    assert(token.length > 20, 'no token shown');
    assert((await apiCall('GET', '/v1/feed', { token })).status === 200, 'the new token does not work');
    const row = page.locator('#token-list li', { hasText: 'bulk uploader' });
    await row.getByRole('button', { name: 'Revoke token bulk uploader' }).click();
    await row.getByText('revoked').waitFor();
    assert((await apiCall('GET', '/v1/feed', { token })).status === 401, 'the revoked token still works');
  }, ['sign up in the browser']);

  await scenario('every page: screenshots at 1280 and 390 px, axe pass', async () => {
    const page = S.ownerPage;
    const u = S.owner.username;
    const visit = async (path, name, p = page) => { await go(p, path); await checkPage(p, name); };
    await visit('/', 'home-feed');
    await visit('/feed', 'feed');
    await visit('/explore', 'explore');
    await visit(`/u/${u}`, 'photostream');
    await visit(`/u/${u}/albums`, 'albums');
    await page.locator('.album-list a').first().click();
    await page.waitForURL('**/albums/*');
    await ready(page);
    await checkPage(page, 'album');
    await visit(`/u/${S.friend.username}/favorites`, 'favorites');
    await visit(`/photos/${S.photo}`, 'photo');
    await page.keyboard.press('?');
    await page.getByRole('dialog').waitFor();
    await checkPage(page, 'photo-shortcuts');
    await page.keyboard.press('Escape');
    await visit('/search?q=harbour', 'search');
    await visit('/upload', 'upload');
    await page.setInputFiles('#file-input', CAMERA_JPEG);
    await checkPage(page, 'upload-queued');
    await visit('/notifications', 'notifications');
    await page.getByRole('button', { name: 'Mark all read' }).click();
    await page.waitForFunction(() => document.getElementById('bell').dataset.count === '0');
    await visit('/stats', 'stats');
    await visit('/settings/tokens', 'tokens');
    await visit('/groups', 'groups');
    await page.getByLabel('Name').fill(unique('Harbours '));
    await page.getByRole('button', { name: 'Create group' }).click();
    await page.waitForURL('**/groups/*', { timeout: 5000 }).catch(async () => { throw new Error(`group not created: ${await page.locator('.form-out').allInnerTexts()}`); });
    await ready(page);
    await checkPage(page, 'group');
    if (S.modPage) await visit('/moderation', 'moderation', S.modPage);
    const anon = await openAs(null, 'anonymous');
    await visit('/', 'home-explore-anonymous', anon);
    await visit('/signin', 'signin', anon);
    await visit('/signup', 'signup', anon);
    await visit('/no/such/page', 'not-found', anon);
    await visit(`/photos/${S.photo}`, 'photo-anonymous', anon);
  }, ['open the photo page']);

  await scenario('sign out revokes the session', async () => {
    const page = S.ownerPage;
    await go(page, '/');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL('**/signin');
    assert(!(await page.evaluate(() => localStorage.getItem('psToken'))), 'token still stored');
    assert((await apiCall('GET', '/v1/feed', { token: S.owner.token })).status === 401, 'the old session still works');
    await go(page, '/upload');
    assert(new URL(page.url()).pathname === '/signin', 'a signed-out user reached /upload');
  }, ['sign up in the browser']);

  await scenario('accessibility: no serious or critical axe violations', async () => {
    assert(!axeProblems.length, `${axeProblems.length} violation(s):\n${axeProblems.join('\n')}`);
  }, ['every page: screenshots at 1280 and 390 px, axe pass']);

  await scenario('no CSP violations or script errors', async () => {
    assert(!pageProblems.length, pageProblems.join('\n'));
  });

  await browser.close();
}

try {
  await run();
} catch (e) {
  console.log(`FAIL  test run aborted: ${e.stack || e}`);
  results.push({ name: 'run', ok: false });
  if (browser) await browser.close().catch(() => {});
}
const failed = results.filter((r) => !r.ok).length;
console.log(`\nbrowser: ${results.length - failed} scenarios passed, ${failed} failed in Chromium; screenshots in ${SHOTS}`);
process.exit(failed ? 1 : 0);
