/**
 * The periodic stats line (startStatsLine), on the embedded store: its fields over a drain
 * of a known mix, the queue depth and lag of the worker's domains, a line that says the
 * store failed rather than throwing, and the bounded sample its percentiles come from.
 */
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { PGliteDriver } from '../src/backends/pglite/driver.js';
import { createPGliteBackend } from '../src/backends/pglite/index.js';
import type { SqlBackend } from '../src/backends/sql/sql-backend.js';
import { CommandBus } from '../src/bus/bus.js';
import { ConfigurationError, PermanentError } from '../src/core/errors.js';
import { DurationSample } from '../src/observability/duration-sample.js';
import { startStatsLine, type StatsLine } from '../src/observability/index.js';
import type { Worker } from '../src/worker/worker.js';
import { waitUntil } from './fixtures/wait-until.js';

/** A pino logger whose lines land in `lines`, parsed. */
function capture() {
  const lines: (StatsLine & { msg: string; level: number })[] = [];
  const logger = pino(
    { level: 'info' },
    { write: (line: string) => lines.push(JSON.parse(line) as (typeof lines)[number]) },
  );
  return { lines, logger };
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function embedded(): Promise<SqlBackend> {
  const backend = await createPGliteBackend();
  await backend.migrate();
  cleanups.push(() => backend.close().catch(() => {}));
  return backend;
}

describe('the stats line', () => {
  it('logs throughput, success rate, processing times, queue depth and lag of the worker’s domains', async () => {
    const backend = await embedded();
    const { lines, logger } = capture();
    const bus = new CommandBus({ backend, logger: pino({ level: 'silent' }) });
    bus.handle('stats', 'Ok', async () => new Promise((resolve) => setTimeout(resolve, 10)));
    bus.handle('stats', 'Broken', () => {
      throw new PermanentError('declined');
    });
    // waits in the worker's domain for a type it does not run: depth and lag
    const past = new Date(Date.now() - 3000);
    await bus.send('stats', 'Later', {}, { runAt: past });
    // another domain's queue is not this worker's
    await bus.sendMany(
      Array.from({ length: 7 }, () => ({ domain: 'elsewhere', type: 'X', data: {}, runAt: past })),
    );
    const worker: Worker = bus.worker({ pollIntervalMs: 50, types: ['Ok', 'Broken'] });
    cleanups.push(() => worker.stop(2000));
    const stop = startStatsLine(bus, worker, { intervalMs: 100, logger });
    cleanups.push(stop);
    await worker.start();
    await bus.sendMany([
      ...Array.from({ length: 12 }, () => ({ domain: 'stats', type: 'Ok', data: {} })),
      ...Array.from({ length: 4 }, () => ({ domain: 'stats', type: 'Broken', data: {} })),
    ]);
    await waitUntil(
      () => lines.reduce((n, l) => n + l.processed, 0) === 16,
      20_000,
      'the lines have told of the 16 attempts',
    );
    const busy = lines.filter((l) => l.processed > 0);
    for (const line of lines) {
      expect(line.msg).toBe('stats');
      expect(line.level).toBe(30);
      expect(line.intervalMs).toBeGreaterThanOrEqual(90);
      expect(line.storeError).toBeUndefined();
    }
    for (const line of busy) {
      // of the unrounded interval
      const rate = (line.processed * 1000) / line.intervalMs;
      expect(Math.abs(line.processedPerSecond - rate) / rate).toBeLessThan(0.02);
      expect(line.successRate).toBeGreaterThanOrEqual(0);
      expect(line.successRate).toBeLessThanOrEqual(1);
      expect(line.meanMs).toBeGreaterThanOrEqual(0);
      expect(line.p95Ms).toBeGreaterThanOrEqual(0);
    }
    // 12 of 16 succeeded, whichever lines they fell in
    const completed = busy.reduce((n, l) => n + Math.round(l.successRate! * l.processed), 0);
    expect(completed).toBe(12);
    // the slowest runs (10 ms each) are in the p95 of a line that has them
    expect(Math.max(...busy.map((l) => l.p95Ms!))).toBeGreaterThanOrEqual(9);

    const quiet = lines.at(-1)!;
    await waitUntil(() => lines.at(-1) !== quiet, 5000, 'another line');
    const last = lines.at(-1)!;
    expect(last).toMatchObject({
      processed: 0,
      processedPerSecond: 0,
      successRate: null,
      meanMs: null,
      p95Ms: null,
      // the one of type Later: the other domain's seven are not counted
      queueDepth: 1,
    });
    expect(last.oldestPendingSeconds).toBeGreaterThanOrEqual(3);
    expect(last.oldestPendingSeconds).toBeLessThan(120);

    stop();
    const count = lines.length;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(lines.length).toBe(count);
    expect(worker.events.listenerCount('completed')).toBe(0);
  });

  it('says the store failed instead of throwing, and goes on', async () => {
    const backend = await embedded();
    const { lines, logger } = capture();
    const bus = new CommandBus({ backend, logger: pino({ level: 'silent' }) });
    const worker = bus.worker();
    cleanups.push(startStatsLine(bus, worker, { intervalMs: 50, logger }));
    await waitUntil(() => lines.length > 0, 5000, 'a first line');
    expect(lines[0]).toMatchObject({ queueDepth: 0, oldestPendingSeconds: 0 });
    await (backend.driver as PGliteDriver).db.close();
    await waitUntil(() => lines.some((l) => l.storeError), 15_000, 'a line about the store');
    const failed = lines.find((l) => l.storeError)!;
    expect(failed).toMatchObject({ msg: 'stats', queueDepth: null, oldestPendingSeconds: null });
    expect(failed.storeError).toEqual(expect.any(String));
  });

  it('refuses an interval that is not a positive number, naming it', () => {
    const bus = new CommandBus({ backend: {} as never, logger: pino({ level: 'silent' }) });
    const worker = {} as Worker;
    for (const intervalMs of [0, -5, Number.NaN])
      expect(() => startStatsLine(bus, worker, { intervalMs, logger: bus.logger })).toThrow(
        ConfigurationError,
      );
    expect(() => startStatsLine(bus, worker, { intervalMs: 0, logger: bus.logger })).toThrow(
      /intervalMs must be a positive number/,
    );
  });

  it('keeps a bounded sample whose mean is exact and whose p95 stays close', () => {
    let seed = 1;
    const random = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
    const sample = new DurationSample(1000, random);
    for (let i = 1; i <= 100_000; i++) sample.add(i % 1000);
    expect(sample.count).toBe(100_000);
    expect(sample.mean()).toBeCloseTo(499.5, 6);
    expect(sample.quantile(0.95)).toBeGreaterThan(930);
    expect(sample.quantile(0.95)).toBeLessThan(970);
    sample.clear();
    expect([sample.mean(), sample.quantile(0.95)]).toEqual([null, null]);
    for (const ms of [5, 1, 3]) sample.add(ms);
    expect([sample.quantile(0.5), sample.quantile(1)]).toEqual([3, 5]);
  });
});
