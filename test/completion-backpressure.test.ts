/**
 * Backpressure on completion: while the store does not take the worker's outcomes (its
 * settles fail, here injected at the Backend seam of a real embedded store), outcomes
 * wait in the worker's memory. Past `maxUnwrittenOutcomes` the worker stops claiming, and
 * claims again once half are written; every command is still completed, once.
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../src/backends/backend.js';
import { createPGliteBackend } from '../src/backends/pglite/index.js';
import type { SqlBackend } from '../src/backends/sql/sql-backend.js';
import { CommandBus } from '../src/bus/bus.js';
import type { Worker } from '../src/worker/worker.js';
import { waitUntil } from './fixtures/wait-until.js';

/** The worker's unwritten outcomes, read from its completer (not public: a test's view). */
function unwritten(worker: Worker): number {
  return (worker as unknown as { completer: { size: number } }).completer.size;
}

describe('worker: backpressure on completion', () => {
  let real: SqlBackend;
  beforeAll(async () => {
    real = await createPGliteBackend();
    await real.migrate();
  });
  afterAll(async () => {
    await real.close();
  });

  it('stops claiming while more outcomes than the limit are unwritten, and resumes once they are written', async () => {
    const max = 20;
    let storeDown = true;
    /** What the worker's completer held at each claim it sent. */
    const unwrittenAtClaims: number[] = [];
    const backend = new Proxy(real, {
      get(target, key, receiver) {
        const value: unknown = Reflect.get(target, key, receiver);
        if (typeof value !== 'function') return value;
        if (key === 'settle')
          return (...args: Parameters<Backend['settle']>) =>
            storeDown ? Promise.reject(new Error('store down')) : target.settle(...args);
        if (key === 'claim')
          return (...args: Parameters<Backend['claim']>) => {
            unwrittenAtClaims.push(unwritten(worker));
            return target.claim(...args);
          };
        return (value as (...a: unknown[]) => unknown).bind(target);
      },
    });
    const logged: { msg: string; unwritten?: number }[] = [];
    const logger = pino(
      { level: 'info' },
      { write: (line: string) => logged.push(JSON.parse(line) as { msg: string }) },
    );
    const bus = new CommandBus({ backend, logger });
    const runs = new Map<string, number>();
    bus.handle('bp', 'Work', (_data, ctx) => {
      runs.set(ctx.commandId, (runs.get(ctx.commandId) ?? 0) + 1);
    });
    const n = 200;
    await bus.sendMany(
      Array.from({ length: n }, (_, i) => ({ domain: 'bp', type: 'Work', data: { i } })),
    );

    const worker = bus.worker({
      concurrency: 4,
      claimBatchSize: 5,
      prefetch: 0,
      pollIntervalMs: 20,
      maxUnwrittenOutcomes: max,
    });
    await worker.start();
    try {
      await waitUntil(
        () => logged.some((l) => l.msg.startsWith('holding claims')),
        10_000,
        'the worker held its claims',
      );
      const claimsWhenHeld = unwrittenAtClaims.length;
      // many poll intervals, and the completer retries meanwhile: no claim goes out
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(unwrittenAtClaims.length).toBe(claimsWhenHeld);
      // what is held: the limit, plus what was claimed or running when it was passed
      expect(unwritten(worker)).toBeGreaterThan(max);
      expect(unwritten(worker)).toBeLessThanOrEqual(max + 4 + 5);
      expect(runs.size).toBeLessThan(n / 4);

      storeDown = false;
      await waitUntil(
        async () => (await bus.countByState('bp')).completed === n,
        30_000,
        'every command completed',
      );
      await worker.idle();
    } finally {
      await worker.stop();
    }
    // no claim went out while more than the limit were unwritten
    expect(unwrittenAtClaims.filter((size) => size > max)).toEqual([]);
    expect(unwrittenAtClaims.length).toBeGreaterThan(n / 5 / 2);
    // nothing lost, nothing run twice (no lease expired: renewals kept working)
    expect(runs.size).toBe(n);
    expect([...runs.values()].every((count) => count === 1)).toBe(true);
    // told once per hold, when it began and when it ended
    const holds = logged.filter((l) => l.msg.startsWith('holding claims')).length;
    const resumes = logged.filter((l) => l.msg === 'claims resume').length;
    expect(holds).toBeGreaterThanOrEqual(1);
    expect(resumes).toBe(holds);
  });
});
