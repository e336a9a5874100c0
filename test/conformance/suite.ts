import { afterAll, beforeAll, describe } from 'vitest';
import { batchFinishTests } from './batch-finish.js';
import { batchTests } from './batches.js';
import { SuiteContext, type ConformanceOptions, type StoreOutage } from './context.js';
import { headerTests } from './headers.js';
import { leaseTests } from './leases.js';
import { operatorTests } from './operator.js';
import { outageTests } from './outage.js';
import { sendTests } from './send.js';
import { workerTests } from './worker.js';

export type { ConformanceOptions, StoreOutage };

/**
 * The guarantees every backend gives, as one suite. A backend file calls it with a factory
 * for a fresh store; what a backend cannot do it declares in its capabilities, and the
 * tests of that capability check the declared behaviour instead.
 */
export function conformanceSuite(options: ConformanceOptions): void {
  describe(`conformance: ${options.name}`, () => {
    const ctx = new SuiteContext(options);
    beforeAll(async () => {
      ctx.backend = await options.createBackend();
    });
    afterAll(async () => {
      if (!ctx.backend) return;
      await options.destroyBackend?.(ctx.backend);
      await ctx.backend.close();
    });
    sendTests(ctx);
    workerTests(ctx);
    leaseTests(ctx);
    operatorTests(ctx);
    batchTests(ctx);
    batchFinishTests(ctx);
    outageTests(ctx);
    headerTests(ctx);
  });
}
