// Development server (Node built-ins only): serves web/ with the SPA
// fallback and the same Content-Security-Policy the real server sets, and
// proxies the API paths to a running photostream (streaming, so SSE works).
//
//   node dev-server.mjs [--listen 127.0.0.1:18081] [--api http://127.0.0.1:18080]

import http from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const [host, port] = opt('listen', '127.0.0.1:18081').split(':');
const api = new URL(opt('api', process.env.PS_API || 'http://127.0.0.1:18080'));
const root = fileURLToPath(new URL('.', import.meta.url));

const PROXIED = /^\/(v1\/|media\/|healthz$|readyz$|openapi\.json$)/;
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon' };
// Only the app's own files are served; node_modules, tests and this script are not.
const SERVED = /^\/(index\.html|app\.js|app\.css|js\/[\w-]+\.js)$/;
// The same policy as api/src/web.rs, so the tests catch what the real server would block.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; "
  + "font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

function proxy(req, res) {
  const upstream = http.request({
    host: api.hostname, port: api.port || 80, method: req.method, path: req.url,
    headers: { ...req.headers, host: api.host },
  }, (up) => {
    res.writeHead(up.statusCode, up.headers);
    res.flushHeaders(); // Node holds headers until the first body byte; SSE needs them now
    up.pipe(res);
  });
  upstream.on('error', (e) => {
    if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 'bad_gateway', message: `API unreachable: ${e.message}` } }));
  });
  // A closed browser connection ends the upstream request (frees SSE stream slots).
  res.on('close', () => upstream.destroy());
  req.pipe(upstream);
}

async function serveFile(req, res) {
  const path = new URL(req.url, 'http://x').pathname;
  let file = 'index.html';
  if (SERVED.test(path)) file = normalize(path).slice(1);
  else if (extname(path) && path !== '/') { res.writeHead(404); return res.end('not found'); }
  try {
    const full = join(root, file);
    await stat(full);
    const body = await readFile(full);
    res.writeHead(200, {
      'Content-Type': TYPES[extname(full)] || 'application/octet-stream',
      'Content-Security-Policy': CSP,
      'Cache-Control': 'no-cache',
      'X-Content-Type-Options': 'nosniff',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  } catch {
    res.writeHead(404);
    res.end('not found');
  }
}

http.createServer((req, res) => {
  if (PROXIED.test(req.url)) return proxy(req, res);
  if (req.method !== 'GET' && req.method !== 'HEAD') { res.writeHead(405); return res.end(); }
  return serveFile(req, res);
}).listen(Number(port), host, () => console.log(`dev server on http://${host}:${port}, API ${api.origin}`));
