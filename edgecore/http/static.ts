// Serves the console's built files (dist/console, built by `vite build console` at install:
// package.json `prepare`). Paths without a file extension get index.html, so the console's own
// routes (/devices/<ns>/<name>, /node) load on refresh. Everything comes from this package: no
// CDN, so the console works on an offline node. The headers keep the page same-origin.

import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { edgetwinError } from '../../errors.js';
import type { Handler, Reply } from './router.js';

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json; charset=utf-8',
  '.woff2': 'font/woff2',
};

/**
 * ajv compiles the model's schema to a function in the browser, hence 'unsafe-eval'; nothing
 * else is loosened. connect-src 'self' covers the same-origin WebSocket (CSP3 §6.1.2).
 */
const CSP = "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
const PAGE_HEADERS = { 'content-security-policy': CSP, 'x-frame-options': 'DENY', 'referrer-policy': 'no-referrer' } as const;

/** dist/console beside the compiled server (dist/edgecore/http), or the build from the sources. */
export function consoleDir(): string | undefined {
  const here = import.meta.dirname;
  for (const dir of [path.resolve(here, '../../console'), path.resolve(here, '../../dist/console')]) {
    if (existsSync(path.join(dir, 'index.html')) && existsSync(path.join(dir, 'assets'))) return dir;
  }
  return undefined;
}

export function staticHandler(dir: string): Handler {
  const root = path.resolve(dir);
  const cache = new Map<string, Buffer>();
  const file = (rel: string): Buffer | undefined => {
    const full = path.resolve(root, rel);
    if (full !== root && !full.startsWith(root + path.sep)) return undefined;
    let body = cache.get(full);
    if (body === undefined) {
      if (!existsSync(full) || !statSync(full).isFile()) return undefined;
      body = readFileSync(full);
      cache.set(full, body);
    }
    return body;
  };
  return ({ url }): Reply => {
    const pathname = url.pathname;
    if (pathname.startsWith('/api/')) throw edgetwinError('EDGETWIN_ERR_HTTP_NOT_FOUND', `no endpoint ${pathname} (docs/http-api.md)`);
    const ext = path.posix.extname(pathname);
    if (ext === '') {
      const index = file('index.html');
      if (!index) throw edgetwinError('EDGETWIN_ERR_HTTP_NOT_FOUND', 'the console is not built (npm run build)');
      return { status: 200, headers: { 'content-type': TYPES['.html']!, ...PAGE_HEADERS }, body: index };
    }
    let rel: string;
    try {
      rel = decodeURIComponent(pathname).slice(1);
    } catch {
      throw edgetwinError('EDGETWIN_ERR_HTTP_REQUEST', 'the path is not valid percent-encoding');
    }
    const body = file(rel);
    if (!body) throw edgetwinError('EDGETWIN_ERR_HTTP_NOT_FOUND', `no file ${pathname.slice(0, 200)} in the console`);
    // Vite names assets by content hash: they never change under a name.
    const caching: Record<string, string> = rel.startsWith('assets/') ? { 'cache-control': 'public, max-age=31536000, immutable' } : {};
    return { status: 200, headers: { 'content-type': TYPES[ext] ?? 'application/octet-stream', ...caching }, body };
  };
}
