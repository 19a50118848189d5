// The HTTP client: bearer token from localStorage, JSON in and out, the
// API's error shape turned into ApiError (whose message is shown to users).

const TOKEN = 'psToken';
const USER = 'psUser';

export const session = {
  get token() { return localStorage.getItem(TOKEN); },
  /** Lower-cased like the server's usernames (older sign-ins may have stored it as typed). */
  get username() {
    const u = localStorage.getItem(USER);
    return u === null ? null : u.replace(/[A-Z]+/g, (c) => c.toLowerCase());
  },
  get signedIn() { return !!localStorage.getItem(TOKEN); },
  set(token, username) {
    localStorage.setItem(TOKEN, token);
    localStorage.setItem(USER, username);
  },
  clear() {
    localStorage.removeItem(TOKEN);
    localStorage.removeItem(USER);
    sessionStorage.removeItem('psModerator');
  },
};

export class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

export function authHeaders() {
  return session.token ? { Authorization: `Bearer ${session.token}` } : {};
}

/** Turns a non-2xx response into an ApiError (reading `{error:{code,message}}`). */
export async function errorOf(status, text, retryAfter) {
  let code = 'http_' + status;
  let msg = `The server answered ${status}.`;
  try {
    const body = JSON.parse(text);
    if (body && body.error) {
      code = body.error.code || code;
      msg = body.error.message || msg;
    }
  } catch { /* not JSON: keep the generic message */ }
  return new ApiError(status, code, msg, retryAfter);
}

/**
 * api('GET', '/v1/feed', undefined, {query: {limit: 20}}) → parsed JSON (null for 204).
 * A 401 while a token was sent means the session ended: the app is told
 * (event `ps:unauthorized`) and sends the user to /signin.
 */
export async function api(method, path, body, opts = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(opts.query || {})) {
    if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, v);
  }
  const headers = { Accept: 'application/json', ...authHeaders() };
  const init = { method, headers, signal: opts.signal };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(url, init);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'Could not reach the server. Check your connection and try again.');
  }
  if (res.status === 401 && headers.Authorization && !opts.noRedirect) {
    window.dispatchEvent(new CustomEvent('ps:unauthorized'));
  }
  if (!res.ok) throw await errorOf(res.status, await res.text(), res.headers.get('Retry-After'));
  if (res.status === 204) return null;
  const type = res.headers.get('Content-Type') || '';
  return type.includes('json') ? res.json() : res.text();
}

export const get = (path, query, opts) => api('GET', path, undefined, { ...opts, query });

/** Whether the signed-in user is a moderator: the queue answers 404 to anyone else. Cached per tab. */
export async function isModerator() {
  if (!session.signedIn) return false;
  const cached = sessionStorage.getItem('psModerator');
  if (cached !== null) return cached === '1';
  let yes = false;
  try {
    await get('/v1/moderation/queue', { limit: 1 });
    yes = true;
  } catch (e) {
    if (e.status !== 404 && e.status !== 403) return false; // unknown: ask again later
  }
  sessionStorage.setItem('psModerator', yes ? '1' : '0');
  return yes;
}

export const enc = encodeURIComponent;
