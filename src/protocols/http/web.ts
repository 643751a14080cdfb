/**
 * The browser apps (web/, built by `npm run build` into dist/web/<app>/) served as static files,
 * with the headers every UI page gets: a strict Content-Security-Policy (scripts, styles and
 * connections from this origin only, no inline script, no eval, no framing), no referrer, and
 * long caching for the content-hashed assets. A path the app routes itself gets its index.html.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context } from 'hono';

/** dist/web/, the same from src/protocols/http (tests) and dist/protocols/http (the package). */
export const WEB_ROOT = fileURLToPath(new URL('../../../dist/web/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
};

export const UI_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; " +
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
};

/** Answers GET /<app>/... from dist/web/<app>/; files are read once and kept (they change only with a new build). */
export function webAppHandler(app: string, root = WEB_ROOT, headers: Record<string, string> = UI_HEADERS) {
  const dir = path.join(root, app);
  const cache = new Map<string, Buffer | null>();
  const read = async (file: string): Promise<Buffer | null> => {
    if (!cache.has(file)) cache.set(file, await readFile(file).catch(() => null));
    return cache.get(file)!;
  };
  return async (c: Context): Promise<Response> => {
    let rest: string;
    try {
      const pathname = new URL(c.req.url).pathname;
      rest = pathname.startsWith(`/${app}/`) ? decodeURIComponent(pathname.slice(app.length + 2)) : '';
    } catch {
      return c.body('bad path\n', 400, { 'content-type': 'text/plain; charset=utf-8' });
    }
    const file = path.normalize(path.join(dir, rest || 'index.html'));
    const inside = file.startsWith(dir + path.sep) && !rest.includes('\0');
    const asset = inside && rest.startsWith('assets/') ? await read(file) : null;
    if (asset)
      return c.body(new Uint8Array(asset), 200, {
        ...headers,
        'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
        'cache-control': 'public, max-age=31536000, immutable',
      });
    if (rest.startsWith('assets/'))
      return c.body('not found\n', 404, { ...headers, 'content-type': 'text/plain; charset=utf-8' });
    const index = await read(path.join(dir, 'index.html'));
    if (!index)
      return c.body(`the ${app} UI is not built: run npm run build\n`, 404, {
        'content-type': 'text/plain; charset=utf-8',
      });
    return c.body(new Uint8Array(index), 200, {
      ...headers,
      'content-type': TYPES['.html']!,
      'cache-control': 'no-cache',
    });
  };
}
