/**
 * The console's page and its mounting: a base path for everything, the built page served
 * with that base written in (no-cache) and its hashed assets cached long, a clear 503 when
 * the page is not built, security headers, and the OpenAPI document listing every route.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../src/backends/backend.js';
import { createPGliteBackend } from '../src/backends/pglite/index.js';
import { defaultPageDir } from '../src/console/assets.js';
import { openConsole, type ConsoleUnderTest } from './helpers/console.js';

const dir = mkdtempSync(path.join(tmpdir(), 'dispatchbox-console-page-'));
const page = path.join(dir, 'console');
mkdirSync(path.join(page, 'assets'), { recursive: true });
writeFileSync(
  path.join(page, 'index.html'),
  '<!doctype html><html><head><meta charset="utf-8"><script type="module" src="./assets/app-1a2b3c.js"></script></head><body></body></html>',
);
writeFileSync(path.join(page, 'assets', 'app-1a2b3c.js'), 'console.log("app")');
writeFileSync(path.join(dir, 'secret.txt'), 'not for the web');
// a script outside assets/ is not the page's: never served
writeFileSync(path.join(page, 'index.js'), 'export const server = "not for the web";');

let backend: Backend;
let api: ConsoleUnderTest;
let unbuilt: ConsoleUnderTest;

beforeAll(async () => {
  backend = await createPGliteBackend();
  await backend.migrate();
  api = openConsole(backend, { basePath: '/ops/console/', pageDir: page });
  unbuilt = openConsole(backend, { pageDir: path.join(dir, 'missing') });
});
afterAll(async () => {
  await api.close();
  await unbuilt.close();
  await backend.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the console under a base path', () => {
  it('serves the API under the base path only', async () => {
    expect(await api.json('/ops/console/api/me')).toMatchObject({ user: { name: 'local' } });
    expect((await api.call('/api/me')).status).toBe(404);
    const unknown = await api.call('/ops/console/api/nothing-here');
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({
      type: 'about:blank',
      title: 'Not Found',
      detail: expect.stringContaining('/ops/console/api/openapi.json') as unknown,
    });
  });

  it('serves index.html with the base path written in, never cached, for every page route', async () => {
    for (const route of [
      '/ops/console/',
      '/ops/console/commands/42',
      '/ops/console/troubleshooting',
    ]) {
      const response = await api.call(route);
      expect(response.status, route).toBe(200);
      expect(response.headers.get('cache-control')).toBe('no-cache');
      const html = await response.text();
      expect(html).toContain('<meta name="dispatchbox-base" content="/ops/console">');
      expect(html).toContain('<base href="/ops/console/">');
      expect(html).toContain('./assets/app-1a2b3c.js');
    }
    const bare = await api.call('/ops/console');
    expect(bare.status).toBe(308);
    expect(bare.headers.get('location')).toBe('/ops/console/');
  });

  it('caches the hashed assets for a year, and serves nothing outside the page folder', async () => {
    const asset = await api.call('/ops/console/assets/app-1a2b3c.js');
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect((await api.call('/ops/console/assets/gone-000.js')).status).toBe(404);
    for (const sneaky of [
      '/ops/console/index.js',
      '/ops/console/..%2Fsecret.txt',
      '/ops/console/assets/..%2F..%2Fsecret.txt',
    ]) {
      const response = await api.call(sneaky);
      expect(response.status, sneaky).toBe(404);
      expect(await response.text()).not.toContain('not for the web');
    }
  });

  it('sends security headers with a CSP of its own origin only', async () => {
    for (const route of ['/ops/console/', '/ops/console/api/me']) {
      const headers = (await api.call(route)).headers;
      expect(headers.get('content-security-policy')).toMatch(
        /default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'/,
      );
      expect(headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
      expect(headers.get('x-content-type-options')).toBe('nosniff');
      expect(headers.get('referrer-policy')).toBe('no-referrer');
    }
    expect((await api.call('/ops/console/api/me')).headers.get('cache-control')).toBe('no-store');
  });

  it('says plainly when the page is not built, while the API works', async () => {
    const response = await unbuilt.call('/');
    expect(response.status).toBe(503);
    expect((await response.text()).replace(/<[^>]+>/g, '')).toMatch(
      /the console page is not built: run npm run build/i,
    );
    expect((await unbuilt.call('/api/me')).status).toBe(200);
  });

  it('finds the built page in the package, from the source as from the build', () => {
    expect(defaultPageDir()).toBe(path.join(import.meta.dirname, '..', 'dist', 'console-page'));
  });

  it('refuses a base path that is not a URL path', () => {
    expect(() => openConsole(backend, { basePath: 'ops console' })).toThrow(
      /basePath \(DISPATCHBOX_CONSOLE_BASE_PATH\) must be a URL path such as '\/ops\/console'/,
    );
    expect(() => openConsole(backend, { basePath: '/a/../b' })).toThrow(/must be a URL path/);
  });
});

describe('the OpenAPI document', () => {
  type Operation = { responses: Record<string, unknown>; summary?: string };
  type Document = {
    openapi: string;
    servers: { url: string }[];
    paths: Record<string, Record<string, Operation>>;
    components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
  };

  it('describes every route, each with its responses, all references resolving', async () => {
    const doc = await api.json<Document>('/ops/console/api/openapi.json');
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.servers).toEqual([{ url: '/ops/console/api' }]);
    const operations = Object.entries(doc.paths).flatMap(([p, methods]) =>
      Object.keys(methods).map((m) => `${m.toUpperCase()} ${p}`),
    );
    expect(operations).toEqual(
      expect.arrayContaining([
        'GET /me',
        'GET /overview',
        'GET /throughput',
        'GET /commands',
        'POST /commands',
        'GET /commands/count',
        'GET /commands/{id}',
        'POST /commands/{id}/retry',
        'POST /commands/{id}/cancel',
        'POST /commands/{id}/complete',
        'POST /commands/actions',
        'GET /batches',
        'GET /batches/{id}',
        'GET /workers',
        'GET /events',
      ]),
    );
    for (const [p, methods] of Object.entries(doc.paths)) {
      for (const [m, operation] of Object.entries(methods)) {
        expect(Object.keys(operation.responses).length, `${m} ${p}`).toBeGreaterThan(0);
        expect(operation.summary, `${m} ${p}`).toBeTruthy();
      }
    }
    const refs = [
      ...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g),
    ].map((r) => r[1]!);
    expect(refs.length).toBeGreaterThan(10);
    for (const ref of refs) expect(doc.components.schemas[ref], ref).toBeDefined();
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(['basic', 'bearer']);
    const query = (doc.paths['/commands']!.get as unknown as { parameters: { name: string }[] })
      .parameters;
    expect(query.map((q) => q.name)).toEqual(
      expect.arrayContaining([
        'state',
        'domain',
        'type',
        'errorCode',
        'batchId',
        'text',
        'limit',
        'order',
        'after',
      ]),
    );
  });
});
