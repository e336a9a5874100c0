/**
 * The Prometheus metrics on every store: a drain of a known mix (completed, retried then
 * completed, sent to troubleshooting) read during and after, its counters and histograms
 * checked against what the store says; the queue gauges against bus.counts; the lag of a
 * due command nobody works; no series per command id; a scrape while the store is down.
 */
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { Counter, Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../src/backends/backend.js';
import type { PGliteDriver } from '../src/backends/pglite/driver.js';
import { createPGliteBackend } from '../src/backends/pglite/index.js';
import { CommandBus } from '../src/bus/bus.js';
import { ConfigurationError, PermanentError, TransientError } from '../src/core/errors.js';
import { createMetrics, type DispatchboxMetrics } from '../src/observability/index.js';
import type { Worker } from '../src/worker/worker.js';
import { waitUntil } from './fixtures/wait-until.js';
import { MetricValues } from './helpers/metric-values.js';
import { everyStore } from './helpers/stores.js';

const stores = await everyStore('metrics');

const silent = pino({ level: 'silent' });
/** The label names any metric may carry: bounded ones only (`le`: a histogram's bucket). */
const BOUNDED_LABELS = new Set(['domain', 'type', 'outcome', 'state', 'reason', 'le']);

for (const store of stores) {
  describe.runIf(store.available)(`metrics: ${store.name}`, () => {
    let backend: Backend;
    const workers: Worker[] = [];
    const opened: DispatchboxMetrics[] = [];

    beforeAll(async () => {
      backend = await store.open();
    });
    afterEach(async () => {
      await Promise.all(workers.splice(0).map((w) => w.stop(2000)));
      for (const m of opened.splice(0)) m.close();
    });
    afterAll(async () => {
      await store.destroy(backend);
      await backend.close();
    });

    const domain = () => `m-${randomUUID().slice(0, 12)}`;

    function setUp() {
      const bus = new CommandBus({ backend, logger: silent });
      const metrics = createMetrics(bus);
      opened.push(metrics);
      return { bus, metrics };
    }

    async function startWorker(bus: CommandBus, metrics: DispatchboxMetrics, domains: string[]) {
      const worker = bus.worker({ pollIntervalMs: 100, domains, concurrency: 8 });
      workers.push(worker);
      metrics.observeWorker(worker);
      await worker.start();
      return worker;
    }

    it('counts a drain of completions, retries and troubleshooting as the store records them, during and after', async () => {
      const { bus, metrics } = setUp();
      const d = domain();
      // every handler waits until the test has read the metrics once with work in flight
      let open!: () => void;
      const gate = new Promise<void>((resolve) => (open = resolve));
      let firstStarted!: () => void;
      const started = new Promise<void>((resolve) => (firstStarted = resolve));
      const run = async () => {
        firstStarted();
        await gate;
        await new Promise((resolve) => setTimeout(resolve, 2));
      };
      bus.handle(d, 'Ok', async () => run());
      bus.handle(d, 'Flaky', { backoff: { type: 'fixed', delay: 0 } }, async (_data, ctx) => {
        await run();
        if (ctx.attempt === 1) throw new TransientError('busy');
      });
      bus.handle(d, 'Broken', async () => {
        await run();
        throw new PermanentError('declined', { code: 'DECLINED' });
      });
      const mix = { Ok: 30, Flaky: 10, Broken: 5 };
      const sent = await bus.sendMany(
        Object.entries(mix).flatMap(([type, n]) =>
          Array.from({ length: n }, (_, i) => ({ domain: d, type, data: { i } })),
        ),
      );
      // a due command of a domain no worker claims: its lag grows
      const idle = domain();
      const waiting = await bus.send(idle, 'Nobody', {}, { runAt: new Date(Date.now() - 5000) });
      const worker = await startWorker(bus, metrics, [d]);

      await started;
      const during = await MetricValues.read(metrics.registry);
      expect(during.value('dispatchbox_commands_in_flight', { domain: d })).toBeGreaterThan(0);
      expect(
        during.value('dispatchbox_commands', { domain: d, state: 'in_progress' }),
      ).toBeGreaterThan(0);
      expect(await metrics.text()).toContain('dispatchbox_commands_in_flight{domain="' + d);
      open();

      await waitUntil(
        async () => {
          const c = await bus.countByState(d);
          return c.completed === 40 && c.troubleshooting === 5;
        },
        30_000,
        'the mix is drained',
      );
      await worker.idle();
      const after = await MetricValues.read(metrics.registry);
      const processed = (type: string, outcome: string) =>
        after.value('dispatchbox_commands_processed_total', { domain: d, type, outcome });

      // the counters equal the store's counts by type
      const counts = await bus.counts(d);
      const stored = (type: string, state: string) =>
        counts.find((c) => c.type === type && c.state === state)?.count ?? 0;
      for (const type of Object.keys(mix)) {
        expect(processed(type, 'completed'), type).toBe(stored(type, 'completed'));
        expect(processed(type, 'troubleshooting'), type).toBe(stored(type, 'troubleshooting'));
      }
      expect(processed('Ok', 'completed')).toBe(30);
      expect(processed('Flaky', 'completed')).toBe(10);
      expect(processed('Broken', 'troubleshooting')).toBe(5);
      // retries: the attempts beyond the first that the store recorded
      const flaky = await bus.list({ domain: d, type: 'Flaky' });
      const extraAttempts = flaky.reduce((n, c) => n + c.attempts - 1, 0);
      expect(extraAttempts).toBe(10);
      expect(processed('Flaky', 'retried')).toBe(extraAttempts);
      expect(after.value('dispatchbox_retry_attempts_total', { domain: d })).toBe(extraAttempts);
      expect(after.value('dispatchbox_troubleshooting_total', { domain: d })).toBe(5);
      for (const outcome of ['released', 'stale', 'lease_lost'])
        expect(after.value('dispatchbox_commands_processed_total', { domain: d, outcome })).toBe(0);

      // one run timed per attempt; nothing in flight once drained
      const runs = (type: string) =>
        after.value('dispatchbox_processing_duration_seconds_count', { domain: d, type });
      expect([runs('Ok'), runs('Flaky'), runs('Broken')]).toEqual([30, 20, 5]);
      expect(
        after.value('dispatchbox_processing_duration_seconds_sum', { domain: d }),
      ).toBeGreaterThan((55 * 2) / 1000 - 0.01);
      expect(after.value('dispatchbox_commands_in_flight', { domain: d })).toBe(0);

      // every attempt came by a claim: 45 commands, 10 of them claimed again after a retry
      expect(after.value('dispatchbox_batch_size_sum', { domain: d })).toBe(55);
      expect(after.value('dispatchbox_batch_size_count', { domain: d })).toBeGreaterThan(0);

      // sends: one sendMany of 45 and one send, each acknowledged by the store
      expect(after.value('dispatchbox_commands_sent_total', { domain: d, type: 'Ok' })).toBe(30);
      expect(after.value('dispatchbox_commands_sent_total', { domain: d })).toBe(45);
      expect(after.value('dispatchbox_send_duration_seconds_count')).toBe(2);

      // the queue gauges are the store's counts, series for series
      const gauged = after
        .samples('dispatchbox_commands', { domain: d })
        .map((v) => ({ domain: d, type: v.labels.type, state: v.labels.state, count: v.value }));
      const bySeries = (a: { type?: unknown; state?: unknown }, b: typeof a) =>
        `${String(a.type)}${String(a.state)}`.localeCompare(`${String(b.type)}${String(b.state)}`);
      expect(gauged.toSorted(bySeries)).toEqual((await bus.counts(d)).toSorted(bySeries));

      // the idle domain's command has waited at least the 5 s since its run time
      const lag = after.value('dispatchbox_oldest_pending_age_seconds', { domain: idle });
      expect(lag).toBeGreaterThanOrEqual(5);
      expect(lag).toBeLessThan(120);
      expect(after.value('dispatchbox_oldest_pending_age_seconds', { domain: d })).toBe(0);
      expect(after.value('dispatchbox_commands', { domain: idle, state: 'pending' })).toBe(1);
      expect((await bus.get(waiting.id)).state).toBe('pending');

      expect(after.value('dispatchbox_worker_health')).toBe(1);
      expect(after.value('dispatchbox_scrape_errors_total')).toBe(0);
      // the pool is PostgreSQL's only
      const pool = after.samples('dispatchbox_db_connection_pool_size');
      if (store.name === 'PostgreSQL') {
        expect(pool.map((p) => p.labels.state).sort()).toEqual(['idle', 'total', 'waiting']);
        expect(
          after.value('dispatchbox_db_connection_pool_size', { state: 'total' }),
        ).toBeGreaterThan(0);
      } else expect(pool).toEqual([]);
      expect(sent).toHaveLength(45);
    });

    it('adds no series per command: a drain of 500 distinct commands, then 500 more', async () => {
      const { bus, metrics } = setUp();
      const d = domain();
      bus.handle(d, 'Each', () => 'ok');
      const worker = await startWorker(bus, metrics, [d]);
      let total = 0;
      const drain = async () => {
        total += 500;
        const sent = await bus.sendMany(
          Array.from({ length: 500 }, (_, i) => ({ domain: d, type: 'Each', data: { i } })),
        );
        await waitUntil(
          async () => (await bus.countByState(d)).completed === total,
          30_000,
          `${total} are completed`,
        );
        await worker.idle();
        return sent.map((c) => c.id);
      };
      const first = await drain();
      const once = await MetricValues.read(metrics.registry);
      const second = await drain();
      const twice = await MetricValues.read(metrics.registry);
      expect(
        twice.value('dispatchbox_commands_processed_total', { domain: d, outcome: 'completed' }),
      ).toBe(1000);
      expect(twice.seriesCount()).toBe(once.seriesCount());
      const ids = new Set([...first, ...second, worker.workerId]);
      for (const [name, value] of twice.labels()) {
        expect(BOUNDED_LABELS.has(name), name).toBe(true);
        expect(ids.has(value), `${name}=${value}`).toBe(false);
      }
    });
  });
}

describe('metrics: a scrape while the store is down (embedded store)', () => {
  it('keeps the queue gauges at their last values and counts the failed read', async () => {
    const backend = await createPGliteBackend();
    await backend.migrate();
    const bus = new CommandBus({ backend, logger: silent });
    const metrics = createMetrics(bus);
    // a worker of another domain, whose claims fail once the store is down
    bus.handle('up', 'T', () => 'ok');
    const worker = bus.worker({ pollIntervalMs: 50, maintenance: false, registration: false });
    metrics.observeWorker(worker);
    try {
      await bus.send('down', 'T', {}, { runAt: new Date(Date.now() - 2000) });
      await worker.start();
      const before = await MetricValues.read(metrics.registry);
      expect(before.value('dispatchbox_commands', { domain: 'down', state: 'pending' })).toBe(1);
      expect(before.value('dispatchbox_worker_health')).toBe(1);
      const down = new Promise((resolve) => worker.events.once('storeDown', resolve));
      await (backend.driver as PGliteDriver).db.close();
      await down;

      const text = await metrics.text();
      expect(text).toMatch(/^dispatchbox_commands\{domain="down",type="T",state="pending"\} 1$/m);
      expect(text).toMatch(/^dispatchbox_oldest_pending_age_seconds\{domain="down"\} \d/m);
      // the scrape that failed counts itself; the worker's claims fail too
      expect(text).toMatch(/^dispatchbox_scrape_errors_total 1$/m);
      expect(text).toMatch(/^dispatchbox_worker_health 0$/m);
      const after = await MetricValues.read(metrics.registry);
      expect(after.value('dispatchbox_scrape_errors_total')).toBe(2);
      await worker.stop(1000);
    } finally {
      metrics.close();
      await backend.close().catch(() => {});
    }
  });

  it('refuses a registry that already holds its metrics, and shares one with the application', async () => {
    const backend = await createPGliteBackend();
    try {
      const bus = new CommandBus({ backend, logger: silent });
      const registry = new Registry();
      const own = new Counter({
        name: 'app_requests_total',
        help: 'the app',
        registers: [registry],
      });
      own.inc(3);
      const metrics = createMetrics(bus, { registry, queueGauges: false });
      expect(() => createMetrics(bus, { registry })).toThrow(ConfigurationError);
      expect(() => createMetrics(bus, { registry })).toThrow(
        /call createMetrics once per registry/,
      );
      const text = await metrics.text();
      expect(text).toMatch(/^app_requests_total 3$/m);
      expect(text).toContain('# TYPE dispatchbox_commands_processed_total counter');
      metrics.close();
    } finally {
      await backend.close();
    }
  });

  it('reads no store at all with queueGauges off, and stops counting once closed', async () => {
    const backend = await createPGliteBackend();
    await backend.migrate();
    const bus = new CommandBus({ backend, logger: silent });
    const metrics = createMetrics(bus, { queueGauges: false, processMetrics: true });
    try {
      await (backend.driver as PGliteDriver).db.close();
      const text = await metrics.text();
      expect(text).not.toContain('dispatchbox_commands{');
      expect(text).toContain('process_cpu_user_seconds_total');
      expect(metrics.contentType).toBe(metrics.registry.contentType);
      expect(bus.events.listenerCount('sent')).toBe(1);
      metrics.close();
      expect(bus.events.listenerCount('sent')).toBe(0);
    } finally {
      await backend.close().catch(() => {});
    }
  });
});
