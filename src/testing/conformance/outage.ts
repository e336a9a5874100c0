import { describe, expect, it } from 'vitest';
import { StoreError } from '../../core/errors.js';
import type { StoreOutage, SuiteContext } from './context.js';

/** With the store down, every call fails as a StoreError that carries the driver's error. */
export function outageTests(ctx: SuiteContext, outageOf: () => Promise<StoreOutage>): void {
  describe('with the store down', () => {
    it('every operation fails with a StoreError whose cause is the driver’s error', async () => {
      const outage = await outageOf();
      try {
        const bus = ctx.busOn(outage.backend);
        const domain = ctx.domain('outage');
        const sent = await bus.send(domain, 'before', {});
        await outage.takeDown();

        const calls: [string, () => Promise<unknown>][] = [
          ['send', () => bus.send(domain, 'during', {})],
          ['sendMany', () => bus.sendMany([{ domain, type: 'during', data: {} }])],
          ['get', () => bus.get(sent.id)],
          ['audit', () => bus.audit(sent.id)],
          [
            'claim',
            () =>
              outage.backend.claim({
                domain,
                types: null,
                limit: 1,
                leaseToken: 'token',
                leaseMs: 1000,
                workerId: 'outage-test',
              }),
          ],
          ['cancel', () => bus.cancel(sent.id)],
          ['list', () => bus.list({ domain })],
          ['countByState', () => bus.countByState(domain)],
          ['ping', () => outage.backend.ping()],
          ['oldestPending', () => bus.oldestPending(domain)],
        ];
        const outcomes = await Promise.all(
          calls.map(([name, call]) =>
            call().then(
              () => ({ name, error: null as unknown }),
              (error: unknown) => ({ name, error }),
            ),
          ),
        );
        for (const { name, error } of outcomes) {
          expect(error, `${name} succeeded with the store down`).not.toBeNull();
          expect(error, `${name}: ${String(error)}`).toBeInstanceOf(StoreError);
          expect((error as StoreError).code).toBe('STORE');
          expect((error as StoreError).cause, `${name} has no cause`).toBeDefined();
        }
      } finally {
        await outage.backend.close().catch(() => {});
        await outage.cleanup();
      }
    }, 120_000);
  });
}
