/**
 * The operations server (/health, /ready, /metrics) on real stores: the embedded one for
 * the routes and the readiness of a worker, and a private redis-server that is paused and
 * killed for real to see /ready follow the store down and back up.
 */
import { createServer, type Server } from 'node:net';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createPGliteBackend } from '../src/backends/pglite/index.js';
import { createRedisBackend } from '../src/backends/redis/index.js';
import { CommandBus } from '../src/bus/bus.js';
import { ConfigurationError } from '../src/core/errors.js';
import type { Backend } from '../src/backends/backend.js';
import type { PGliteDriver } from '../src/backends/pglite/driver.js';
import {
  startOperationsServer,
  type MetricsSource,
  type OperationsServer,
  type OperationsServerOptions,
} from '../src/observability/index.js';
import { StoreCheck } from '../src/observability/readiness.js';
import type { Worker } from '../src/worker/worker.js';
import { waitUntil } from './fixtures/wait-until.js';
import { PrivateRedis, redisServerInstalled } from './helpers/redis-server.js';

const silent = pino({ level: 'silent' });

async function get(
  url: string,
  method = 'GET',
): Promise<{ status: number; body: unknown; text: string; type: string | null }> {
  const response = await fetch(url, { method });
  const text = await response.text();
  const type = response.headers.get('content-type');
  const json = type?.startsWith('application/json') && text !== '';
  const body = json ? (JSON.parse(text) as unknown) : null;
  return { status: response.status, body, text, type };
}

/** Servers and workers a test started, stopped after it whatever happened. */
const servers: OperationsServer[] = [];
const workers: Worker[] = [];
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop(2000)));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(
  bus: CommandBus,
  options: Partial<OperationsServerOptions> = {},
): Promise<OperationsServer> {
  const server = await startOperationsServer(bus, {
    port: 0,
    host: '127.0.0.1',
    logger: silent,
    ...options,
  });
  servers.push(server);
  return server;
}

describe('the operations server on the embedded store', () => {
  let backend: Backend;
  let bus: CommandBus;
  beforeAll(async () => {
    backend = await createPGliteBackend();
    await backend.migrate();
    bus = new CommandBus({ backend, logger: silent });
    bus.handle('ops', 'Noop', () => 'ok');
  });
  afterAll(() => backend.close());

  it('/health answers 200 from memory, with the uptime and the event loop delay', async () => {
    const server = await serve(bus);
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
    const health = await get(`${server.url}/health`);
    expect(health.status).toBe(200);
    const body = health.body as {
      status: string;
      uptimeS: number;
      eventLoopDelayMs: Record<string, number>;
    };
    expect(body.status).toBe('ok');
    expect(body.uptimeS).toBeGreaterThanOrEqual(0);
    expect(Object.keys(body.eventLoopDelayMs).sort()).toEqual(['max', 'p50', 'p99']);
    for (const ms of Object.values(body.eventLoopDelayMs)) expect(ms).toBeGreaterThanOrEqual(0);
    expect((await get(`${server.url}/health`, 'HEAD')).status).toBe(200);
  });

  it('/ready: 503 before the watched worker has started, 200 once it has, 503 from beginShutdown on', async () => {
    const server = await serve(bus);
    const worker = bus.worker({ pollIntervalMs: 100 });
    workers.push(worker);
    server.watchWorker(worker);

    const before = await get(`${server.url}/ready`);
    expect(before.status).toBe(503);
    expect(before.body).toEqual({
      status: 'not ready',
      reasons: [`worker ${worker.workerId} is not running`],
    });

    await worker.start();
    const started = await get(`${server.url}/ready`);
    expect(started.body).toEqual({ status: 'ready' });
    expect(started.status).toBe(200);

    server.beginShutdown();
    const shutting = await get(`${server.url}/ready`);
    expect(shutting.status).toBe(503);
    expect(shutting.body).toEqual({ status: 'not ready', reasons: ['shutting down'] });
    // liveness is not readiness: the process still answers while it drains
    expect((await get(`${server.url}/health`)).status).toBe(200);
  });

  it('/ready with no worker watched is 200 while the store answers', async () => {
    const server = await serve(bus);
    expect(await get(`${server.url}/ready`)).toMatchObject({
      status: 200,
      body: { status: 'ready' },
    });
  });

  it('/metrics: 404 with a clear body without a source, the source’s text and type with one', async () => {
    const without = await serve(bus);
    const missing = await get(`${without.url}/metrics`);
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({
      error: 'no metrics are collected by this process: /metrics is not served',
    });

    const metrics: MetricsSource = {
      contentType: 'text/plain; version=0.0.4; charset=utf-8',
      text: () => Promise.resolve('# TYPE up gauge\nup 1\n'),
    };
    const withMetrics = await serve(bus, { metrics });
    const scraped = await get(`${withMetrics.url}/metrics`);
    expect(scraped.status).toBe(200);
    expect(scraped.type).toBe(metrics.contentType);
    expect(scraped.text).toBe('# TYPE up gauge\nup 1\n');
  });

  it('answers unknown paths with a 404 JSON body, and a failing route with a 500 that ends nothing', async () => {
    const server = await serve(bus, {
      metrics: { contentType: 'text/plain', text: () => Promise.reject(new Error('broken')) },
    });
    const unknown = await get(`${server.url}/nope?x=1`);
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({
      error: 'no such endpoint: GET /nope; try /health, /ready or /metrics',
    });
    const failed = await get(`${server.url}/metrics`);
    expect(failed.status).toBe(500);
    expect(failed.body).toEqual({ error: '/metrics failed; see the process log' });
    expect((await get(`${server.url}/health`)).status).toBe(200);
  });

  it('serves the routes `mount` adds, beside its own', async () => {
    const server = await serve(bus, {
      mount: (app) => app.get('/api/hello', (c) => c.json({ hello: 'operator' })),
    });
    expect(await get(`${server.url}/api/hello`)).toMatchObject({
      status: 200,
      body: { hello: 'operator' },
    });
    expect((await get(`${server.url}/health`)).status).toBe(200);
  });

  it('refuses a port in use with a ConfigurationError naming DISPATCHBOX_HEALTH_PORT', async () => {
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as { port: number };
    try {
      const attempt = startOperationsServer(bus, { port, host: '127.0.0.1', logger: silent });
      await expect(attempt).rejects.toBeInstanceOf(ConfigurationError);
      await expect(attempt).rejects.toThrow(
        `the operations server cannot listen on 127.0.0.1:${port}: the port is in use by another process; set DISPATCHBOX_HEALTH_PORT (--health-port) to a free port, or to 0 to serve no health endpoints`,
      );
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it('refuses a port that is not one, before listening', async () => {
    await expect(
      startOperationsServer(bus, { port: 70_000, host: '127.0.0.1', logger: silent }),
    ).rejects.toThrow(
      "the operations server's port must be a whole number from 0 to 65535 (DISPATCHBOX_HEALTH_PORT); got 70000",
    );
  });

  it('/ready reports a watched worker whose store calls fail (its storeDown event)', async () => {
    const own = await createPGliteBackend();
    await own.migrate();
    const ownBus = new CommandBus({ backend: own, logger: silent });
    ownBus.handle('ops', 'Noop', () => 'ok');
    const server = await serve(ownBus);
    const worker = ownBus.worker({ pollIntervalMs: 50 });
    workers.push(worker);
    server.watchWorker(worker);
    await worker.start();
    expect((await get(`${server.url}/ready`)).status).toBe(200);

    await (own.driver as PGliteDriver).db.close();
    let reasons: string[] = [];
    await waitUntil(
      async () => {
        const ready = await get(`${server.url}/ready`);
        reasons = (ready.body as { reasons?: string[] }).reasons ?? [];
        return (
          reasons.some((r) => r.startsWith(`worker ${worker.workerId}: claims failing`)) &&
          reasons.some((r) => r.startsWith('the store cannot be reached'))
        );
      },
      10_000,
      'the failing claims and the failed ping are reasons',
    );
    expect(reasons.join('\n')).toMatch(
      new RegExp(
        `^worker ${worker.workerId}: claims failing since \\d{4}-\\d\\d-\\d\\dT.*Z: PGlite`,
        'm',
      ),
    );
    expect(reasons.join('\n')).toMatch(/^the store cannot be reached: /m);
  });

  it('pings the store once for a storm of probes in the same second', async () => {
    let pings = 0;
    const check = new StoreCheck(
      () => {
        pings++;
        return backend.ping();
      },
      2000,
      60_000,
    );
    const answers = await Promise.all(Array.from({ length: 200 }, () => check.check()));
    expect(answers.every((a) => a === null)).toBe(true);
    expect(await check.check()).toBeNull();
    expect(pings).toBe(1);
  });
});

const installed = await redisServerInstalled();
if (!installed) {
  if (process.env.CI)
    throw new Error('redis-server is not installed, and CI needs it for the readiness test');
  console.warn('\n*** redis-server is not installed: the /ready outage test did NOT run ***\n');
}

describe.runIf(installed)('/ready while the store is really down (a private redis-server)', () => {
  let redis: PrivateRedis | undefined;
  let backend: Backend | undefined;
  afterAll(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop(2000)));
    await backend?.close();
    await redis?.destroy();
  });

  it('is 503 while the server is paused and while it is gone, and 200 once it is back', async () => {
    redis = await PrivateRedis.create();
    backend = await createRedisBackend({ url: redis.url, prefix: 'ready' });
    const bus = new CommandBus({ backend, logger: silent });
    bus.handle('ops', 'Noop', () => 'ok');
    const server = await serve(bus, { storeCheckTimeoutMs: 300 });
    const worker = bus.worker({ pollIntervalMs: 100 });
    workers.push(worker);
    server.watchWorker(worker);
    await worker.start();
    const ready = `${server.url}/ready`;
    const status = async () => (await get(ready)).status;
    await waitUntil(async () => (await status()) === 200, 10_000, '/ready is 200');

    // A hung server: connections stay open, nothing answers. The ping times out.
    redis.pause();
    await waitUntil(async () => (await status()) === 503, 10_000, '/ready is 503 (paused)');
    const paused = await get(ready);
    expect(paused.body).toMatchObject({ status: 'not ready' });
    expect((paused.body as { reasons: string[] }).reasons).toContain(
      'the store did not answer a ping within 300 ms',
    );
    // liveness never asks the store
    expect((await get(`${server.url}/health`)).status).toBe(200);
    redis.resume();
    await waitUntil(async () => (await status()) === 200, 20_000, '/ready is 200 (resumed)');

    // A server that is gone: killed, its port refusing connections.
    await redis.kill();
    await waitUntil(async () => (await status()) === 503, 10_000, '/ready is 503 (killed)');
    const gone = (await get(ready)).body as { reasons: string[] };
    expect(gone.reasons.join('\n')).toMatch(/the store (did not answer|cannot be reached)/);
    await redis.start();
    await waitUntil(async () => (await status()) === 200, 30_000, '/ready is 200 (restarted)');
    expect((await get(ready)).body).toEqual({ status: 'ready' });
  });
});
