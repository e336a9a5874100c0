/**
 * A worker stopped while one of its claims is on its way to the store stops when that
 * claim returns, not after its poll interval: the claim loop's nudge from stop() came
 * before the loop waited, and nothing else would wake it.
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../src/backends/backend.js';
import { createPGliteBackend } from '../src/backends/pglite/index.js';
import type { SqlBackend } from '../src/backends/sql/sql-backend.js';
import { CommandBus } from '../src/bus/bus.js';

describe('worker: stop during a claim', () => {
  let real: SqlBackend;
  beforeAll(async () => {
    real = await createPGliteBackend();
    await real.migrate();
  });
  afterAll(async () => {
    await real.close();
  });

  it('stops as soon as the claim on its way returns, whatever the poll interval', async () => {
    let claimSent!: () => void;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let claims = 0;
    const backend = new Proxy(real, {
      get(target, key, receiver) {
        const value: unknown = Reflect.get(target, key, receiver);
        if (typeof value !== 'function') return value;
        if (key === 'claim')
          return async (...args: Parameters<Backend['claim']>) => {
            // the second claim (after the first found nothing and a wake-up came) is held
            if (++claims === 2) {
              claimSent();
              await gate;
            }
            return target.claim(...args);
          };
        return (value as (...a: unknown[]) => unknown).bind(target);
      },
    });
    const bus = new CommandBus({ backend, logger: pino({ level: 'silent' }) });
    bus.handle('stopping', 'Noop', () => null);
    const worker = await bus.worker({ pollIntervalMs: 60_000, maintenance: false }).start();
    await worker.idle();
    const secondClaim = new Promise<void>((resolve) => (claimSent = resolve));
    // a send wakes the worker: its next claim goes out, and is held
    await bus.send('stopping', 'Noop', {});
    await secondClaim;
    const started = Date.now();
    const stopping = worker.stop(1000);
    release();
    await stopping;
    expect(Date.now() - started).toBeLessThan(5000);
  }, 20_000);
});
