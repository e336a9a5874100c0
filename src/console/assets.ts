/**
 * The console page: the single-page app built ahead of time into <package>/dist/console
 * (by `npm run build`), served from the package itself, never a CDN. index.html is sent
 * with the base path written in (so the page finds the API behind a proxy) and never
 * cached; the hashed files under assets/ are cached for a year.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context, Hono } from 'hono';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * <package root>/dist/console: the root is the nearest folder above this module with the
 * package's package.json (this module runs from src/console under tsx, from dist/… once built).
 */
export function defaultPageDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest) && isThisPackage(manifest)) return path.join(dir, 'dist', 'console');
    const parent = path.dirname(dir);
    if (parent === dir)
      return path.resolve(fileURLToPath(import.meta.url), '../../../dist/console');
    dir = parent;
  }
}

function isThisPackage(manifest: string): boolean {
  try {
    return (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'dispatchbox';
  } catch {
    return false;
  }
}

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Dispatchbox console: not built</title></head>
<body><h1>The console page is not built</h1>
<p>The console page is not built: run <code>npm run build</code> in the Dispatchbox package, then reload.
The HTTP API answers under <code>api/</code> meanwhile (its description: <code>api/openapi.json</code>).</p>
</body></html>`;

/**
 * Serves the page under `basePath` on `app`: registered after /api, so every path not
 * taken by the API is a file of the page or, for the page's own routes, index.html.
 */
export function registerPage(app: Hono, basePath: string, dir = defaultPageDir()): void {
  const root = path.resolve(dir);
  let index: string | null = null;
  const indexHtml = async (): Promise<string | null> => {
    if (index !== null) return index;
    try {
      const text = await readFile(path.join(root, 'index.html'), 'utf8');
      // kept once read: the page is built before the server starts, not while it runs
      index = withBasePath(text, basePath);
      return index;
    } catch {
      return null;
    }
  };

  const servePage = async (c: Context) => {
    const html = await indexHtml();
    if (html === null) return c.html(NOT_BUILT, 503, { 'cache-control': 'no-store' });
    return c.html(html, 200, { 'cache-control': 'no-cache' });
  };

  app.get(`${basePath}/`, servePage);
  if (basePath !== '') app.get(basePath, (c) => c.redirect(`${basePath}/`, 308));
  app.get(`${basePath}/*`, async (c) => {
    const relative = decodeURIComponent(c.req.path.slice(basePath.length + 1));
    const file = path.resolve(root, relative);
    // never a file outside the page's folder (../ in the path)
    if (!file.startsWith(root + path.sep)) return c.notFound();
    const type = TYPES[path.extname(file)];
    const found = type ? await stat(file).catch(() => null) : null;
    if (!found?.isFile()) {
      // a path with an extension names a file that is not there; any other is a page route
      return path.extname(file) ? c.notFound() : servePage(c);
    }
    const hashed = relative.startsWith('assets/');
    return c.body(await readFile(file), 200, {
      'content-type': type!,
      'cache-control': hashed ? 'public, max-age=31536000, immutable' : 'no-cache',
    });
  });
}

/**
 * index.html with the base path the page reads (`<meta name="dispatchbox-base">`) and a
 * <base href> so its relative asset URLs (Vite's base './') resolve from any page route.
 */
export function withBasePath(html: string, basePath: string): string {
  const base = escapeAttribute(basePath);
  const meta = `<meta name="dispatchbox-base" content="${base}">`;
  let out = /<meta\s+name="dispatchbox-base"[^>]*>/i.test(html)
    ? html.replace(/<meta\s+name="dispatchbox-base"[^>]*>/i, meta)
    : html.replace(/<head([^>]*)>/i, `<head$1>\n    ${meta}`);
  if (!/<base\s/i.test(out)) out = out.replace(meta, `${meta}\n    <base href="${base}/">`);
  return out;
}

function escapeAttribute(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
}
