/**
 * The store conformance suite, one part per role of the Backend contract, for the three
 * stores of this package and for a store of your own:
 *
 *   import { runStoreConformance } from 'dispatchbox/testing/conformance';
 *   runStoreConformance({ name: 'my store', open: async () => myMigratedBackend() });
 *
 * It registers vitest tests (describe/it/expect from 'vitest', an optional peer
 * dependency): call it at the top level of a test file. docs/writing-a-store.md says
 * what each part checks. What a store cannot do it declares in its capabilities; the
 * tests of that capability then check the declared behaviour instead, never skip.
 */
import { afterAll, beforeAll, describe } from 'vitest';
import { batchTests } from './batches/create.js';
import { batchFinishTests } from './batches/finish.js';
import { headerTests } from './commands/headers.js';
import { leaseTests } from './commands/leases.js';
import { sendTests } from './commands/send.js';
import { workerValueTests } from './commands/worker-values.js';
import { workerTests } from './commands/worker.js';
import {
  STORE_ROLES,
  SuiteContext,
  type StoreConformanceOptions,
  type StoreOutage,
  type StoreRole,
} from './context.js';
import { lifecycleTests } from './lifecycle.js';
import { limitTests } from './limits.js';
import { batchListingTests, listingTests } from './listing.js';
import { maintenanceTests } from './maintenance.js';
import { operatorTests } from './operator.js';
import { outageTests } from './outage.js';
import { sampleTests } from './samples.js';
import { editRetryTests } from './edit-retry.js';

export { STORE_ROLES, type StoreConformanceOptions, type StoreOutage, type StoreRole };

/** How long one test or hook of the suite may take, unless `timeoutMs` says otherwise. */
const DEFAULT_TIMEOUT_MS = 60_000;

const PARTS: Record<StoreRole, (ctx: SuiteContext) => void> = {
  commands: (ctx) => {
    sendTests(ctx);
    workerTests(ctx);
    workerValueTests(ctx);
    leaseTests(ctx);
    headerTests(ctx);
    if (ctx.options.outage) outageTests(ctx, ctx.options.outage);
  },
  operator: (ctx) => {
    operatorTests(ctx);
    listingTests(ctx);
    editRetryTests(ctx);
    // Every transition of the table, made on the store; it claims and settles too, so a
    // store tested for the operator role alone needs the commands role's members.
    lifecycleTests(ctx);
  },
  batches: (ctx) => {
    batchTests(ctx);
    batchFinishTests(ctx);
    batchListingTests(ctx);
  },
  limits: limitTests,
  maintenance: maintenanceTests,
  samples: sampleTests,
};

/**
 * Registers the suite's tests for a store: `describe('conformance: <name>')` with one
 * block per role. The store is opened once before them and cleaned up and closed after.
 */
export function runStoreConformance(options: StoreConformanceOptions): void {
  const roles = options.roles ?? STORE_ROLES;
  const unknown = roles.filter((r) => !STORE_ROLES.includes(r));
  if (unknown.length > 0 || roles.length === 0) {
    throw new Error(
      `runStoreConformance: roles must name some of ${STORE_ROLES.join(', ')}; got ${JSON.stringify(roles)}`,
    );
  }
  // The suite's own timeouts, not the test runner's defaults (5 s a test, 10 s a hook):
  // its tests wait for real lease expiries and retries, and opening a store may migrate.
  const timeout = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  describe(`conformance: ${options.name}`, { timeout }, () => {
    const ctx = new SuiteContext(options, timeout);
    beforeAll(async () => {
      const backend = await options.open();
      ctx.backend = backend;
      const transactional = backend.capabilities.transactions && roles.includes('commands');
      if (transactional && (!options.sql || !options.transaction)) {
        throw new Error(
          `runStoreConformance (${options.name}): the store declares capabilities.transactions, ` +
            'so pass `sql` and `transaction` (a Queryable on the suite’s store and a function ' +
            'that runs one in an application transaction), or declare transactions: false',
        );
      }
    }, timeout);
    afterAll(async () => {
      if (!ctx.backend) return;
      await options.cleanup?.(ctx.backend);
      await ctx.backend.close();
    }, timeout);
    for (const role of STORE_ROLES) if (roles.includes(role)) PARTS[role](ctx);
  });
}
