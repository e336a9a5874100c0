/**
 * Every promise the worker starts without awaiting it (runs, outcome flushes, lease
 * renewals, heartbeats, claims, maintenance, middleware's `next()`) must end handled,
 * whatever fails on its way: a store call that throws a value with no string form, a
 * logger that throws on every call, a 'settled' listener that throws. On the embedded
 * store, with failures injected at the Backend seam (the calls still reach the real
 * store when they are let through).
 */
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createPGliteBackend } from '../src/backends/pglite/index.js';
import type { Backend } from '../src/backends/backend.js';
import type { SqlBackend } from '../src/backends/sql/sql-backend.js';
import { CommandBus } from '../src/bus/bus.js';
import type { Worker } from '../src/worker/worker.js';
import { waitUntil } from './fixtures/wait-until.js';

/** A value that throws on every use, `instanceof` and `String()` included. */
function unreadable(): unknown {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
}

/**
 * The real backend, with some calls failing: `failing[method]` is how many of the next
 * calls throw (Infinity: all of them). Calls are counted whether they fail or not.
 */
function faulty(real: Backend, failing: Record<string, number>) {
  const calls: Record<string, number> = {};
  const backend = new Proxy(real, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver);
      if (typeof key !== 'string' || typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls[key] = (calls[key] ?? 0) + 1;
        if ((failing[key] ?? 0) > 0) {
          failing[key]!--;
          // synchronously: a caller that only handles rejections would miss it
          if (key === 'tidy') throw unreadable();
          return Promise.reject(unreadable());
        }
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { backend, calls };
}

describe('worker: no promise it starts rejects unhandled', () => {
  let real: SqlBackend;
  const workers: Worker[] = [];
  // kept as text: the values thrown here cannot be printed by the assertion itself
  const unhandled: string[] = [];
  const uncaught: string[] = [];
  const printable = (value: unknown) => {
    try {
      return String((value as Error).stack ?? value);
    } catch {
      return '(a value that cannot be printed)';
    }
  };
  const onUnhandled = (reason: unknown) => unhandled.push(printable(reason));
  const onUncaught = (error: unknown) => uncaught.push(printable(error));

  beforeAll(async () => {
    real = await createPGliteBackend();
    await real.migrate();
    process.on('unhandledRejection', onUnhandled);
    process.on('uncaughtException', onUncaught);
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop(2000)));
  });
  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    process.off('uncaughtException', onUncaught);
    await real.close();
  });

  it('keeps running and settles everything when store calls, the logger and a listener throw', async () => {
    const { backend, calls } = faulty(real, {
      claim: 1,
      settle: 2,
      renewLeases: Infinity,
      recoverExpiredLeases: Infinity,
      finishBatches: Infinity,
      prune: Infinity,
      tidy: Infinity,
    });
    // every warning and error throws, so each failure path's own handling fails too
    const logger = pino({
      level: 'warn',
      hooks: {
        logMethod(args, method, level) {
          if (level >= 40) throw unreadable();
          method.apply(this, args);
        },
      },
    });
    const bus = new CommandBus({ backend, logger });
    bus.use(async (ctx, next) => {
      // a middleware that does not wait for the handler
      if (ctx.type === 'Detached') {
        void next();
        return 'detached';
      }
      return next();
    });
    bus.handle('faults', 'Ok', () => 'ok');
    bus.handle('faults', 'Unreadable', { maxAttempts: 1 }, () => {
      throw unreadable();
    });
    bus.handle('faults', 'Detached', () => {
      throw unreadable();
    });
    bus.handle('faults', 'Heartbeat', async (_d, ctx) => {
      // not awaited: renewals fail here, so it rejects
      void ctx.heartbeat();
      await waitUntil(() => (calls['renewLeases'] ?? 0) >= 2, 20_000, 'leases were renewed');
      return 'beat';
    });
    const ok = await bus.send('faults', 'Ok', {});
    const bad = await bus.send('faults', 'Unreadable', {});
    const detached = await bus.send('faults', 'Detached', {});
    const beat = await bus.send('faults', 'Heartbeat', {});
    const batch = await bus.createBatch({
      commands: [{ domain: 'faults', type: 'Ok', data: {} }],
    });

    const worker = bus.worker({ leaseMs: 600, pollIntervalMs: 50 });
    workers.push(worker);
    let listened = 0;
    worker.on('settled', () => {
      listened++;
      throw unreadable();
    });
    await worker.start();

    const state = async (id: string) => (await bus.get(id)).state;
    await waitUntil(
      async () =>
        (await state(ok.id)) === 'completed' &&
        (await state(bad.id)) === 'troubleshooting' &&
        (await state(detached.id)) === 'completed' &&
        (await state(beat.id)) === 'completed' &&
        (await bus.getBatch(batch.id)).counts.completed === 1,
      30_000,
      'every command settled',
    );
    // tidy runs every 5 s and throws synchronously
    await waitUntil(
      () =>
        (calls['recoverExpiredLeases'] ?? 0) >= 1 &&
        (calls['finishBatches'] ?? 0) >= 1 &&
        (calls['tidy'] ?? 0) >= 1,
      30_000,
      'maintenance ran',
    );
    await worker.idle();

    expect((await bus.get(bad.id)).lastError).toMatchObject({
      code: 'ERROR',
      message: expect.stringMatching(/cannot be turned into text/) as unknown,
    });
    expect((await bus.get(detached.id)).result).toBe('detached');
    expect(calls['settle']).toBeGreaterThanOrEqual(3);
    expect(listened).toBeGreaterThan(0);
    // outcomes written once: a listener that threw did not put its group back in the queue
    expect(worker.stats).toMatchObject({ completed: 4, troubleshooting: 1, stale: 0 });
    expect(unhandled).toEqual([]);
    expect(uncaught).toEqual([]);
  });
});
