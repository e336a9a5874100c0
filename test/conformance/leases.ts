import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ClaimedCommand } from '../../src/core/command.js';
import { LeaseLostError } from '../../src/core/errors.js';
import { eventually, expectState, type SuiteContext } from './context.js';

export function leaseTests(ctx: SuiteContext): void {
  describe('leases and fencing', () => {
    const claimOne = async (domain: string, leaseMs: number) => {
      const leaseToken = randomUUID();
      const [c] = await ctx.backend.claim({
        workerId: `w-${leaseToken.slice(0, 4)}`,
        domain,
        types: null,
        limit: 1,
        leaseMs,
        leaseToken,
      });
      return c!;
    };
    const recoverUntil = async (id: string, state: string) =>
      eventually(async () => {
        await ctx.backend.recoverExpiredLeases({ limit: 100 });
        expect((await ctx.backend.getCommand(id))?.state).toBe(state);
      });

    it('refuses a late completion once the lease expired and another claim took over', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      const sent = await bus.send(domain, 'T', {});
      const first = await claimOne(domain, 100);
      expect(first.attempts).toBe(1);
      await recoverUntil(sent.id, 'pending');
      const second = await claimOne(domain, 10_000);
      expect(second.attempts).toBe(2);
      expect(second.leaseToken).not.toBe(first.leaseToken);

      const late = await ctx.backend.settle({
        workerId: 'late',
        settlements: [
          { kind: 'complete', id: sent.id, leaseToken: first.leaseToken, resultJson: '"late"' },
        ],
      });
      expect(late).toMatchObject({ applied: [], stale: [sent.id] });
      const renewLate = await ctx.backend.renewLeases({
        leases: [{ id: sent.id, leaseToken: first.leaseToken }],
        leaseMs: 1000,
      });
      expect(renewLate.lost).toEqual([sent.id]);

      const current = await ctx.backend.settle({
        workerId: 'current',
        settlements: [
          { kind: 'complete', id: sent.id, leaseToken: second.leaseToken, resultJson: '"current"' },
        ],
      });
      expect(current.applied).toEqual([sent.id]);
      const done = await bus.get(sent.id);
      expect(done).toMatchObject({ state: 'completed', result: 'current', attempts: 2 });
      const expired = (await bus.audit(sent.id)).filter((r) => r.reason === 'lease expired');
      expect(expired).toHaveLength(1);
      expect(expired[0]).toMatchObject({
        fromState: 'in_progress',
        toState: 'pending',
        attempt: 1,
      });
    });

    it('sends an expired command with no attempts left to troubleshooting', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      const sent = await bus.send(domain, 'T', {}, { maxAttempts: 1 });
      await claimOne(domain, 50);
      await recoverUntil(sent.id, 'troubleshooting');
      expect((await bus.get(sent.id)).lastError?.code).toBe('LEASE_EXPIRED');
    });

    it("sends an expired command to troubleshooting by the claiming worker's handler policy when the send named none", async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      const unnamed = await bus.send(domain, 'T', {});
      const named = await bus.send(domain, 'T', {}, { maxAttempts: 2 });
      const handlerMaxAttempts = { types: ['T'], limits: [1], fallback: 5 };
      const claimed = await ctx.backend.claim({
        workerId: 'w-policy',
        domain,
        types: null,
        limit: 2,
        leaseMs: 50,
        leaseToken: randomUUID(),
        handlerMaxAttempts,
      });
      expect(new Map(claimed.map((c) => [c.id, c.maxAttempts]))).toEqual(
        new Map([
          [unnamed.id, 1],
          [named.id, 2],
        ]),
      );
      await recoverUntil(unnamed.id, 'troubleshooting');
      await recoverUntil(named.id, 'pending');
      expect(await bus.get(unnamed.id)).toMatchObject({
        attempts: 1,
        maxAttempts: 1,
        lastError: { code: 'LEASE_EXPIRED' },
      });
    });

    it('keeps a renewed lease alive past its first expiry', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      const sent = await bus.send(domain, 'T', {});
      const claimed = await claimOne(domain, 300);
      for (let i = 0; i < 4; i++) {
        await new Promise((r) => setTimeout(r, 150));
        const { lost } = await ctx.backend.renewLeases({
          leases: [{ id: sent.id, leaseToken: claimed.leaseToken }],
          leaseMs: 300,
        });
        expect(lost).toEqual([]);
        await ctx.backend.recoverExpiredLeases({ limit: 100 });
      }
      expect((await bus.get(sent.id)).state).toBe('in_progress');
    });

    it('renews leases of long handlers by itself, and a lost lease aborts the handler', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      // 2.5 leases, renewed every third of one: a renewal can be 600 ms late under load
      bus.handle(domain, 'Long', async () => {
        await new Promise((r) => setTimeout(r, 2500));
        return 'survived';
      });
      const sent = await bus.send(domain, 'Long', {});
      await ctx.worker(bus, { leaseMs: 1000 });
      await expectState(bus, sent.id, 'completed');
      expect((await bus.get(sent.id)).attempts).toBe(1);
    });

    it('fails the heartbeat of a handler whose lease was taken over, and drops its outcome', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      let runs = 0;
      let heartbeatError: unknown = null;
      bus.handle(domain, 'Hb', async (_d, c) => {
        if (++runs > 1) return 'second';
        const { leaseToken } = c.command as ClaimedCommand;
        await ctx.backend.settle({
          workerId: 'other',
          settlements: [
            { kind: 'release', id: c.commandId, leaseToken, delayMs: 0, reason: 'taken over' },
          ],
        });
        heartbeatError = await c.heartbeat().then(
          () => null,
          (e: unknown) => e,
        );
        return 'first';
      });
      const sent = await bus.send(domain, 'Hb', {});
      await ctx.worker(bus);
      await eventually(async () => expect((await bus.get(sent.id)).result).toBe('second'));
      expect(heartbeatError).toBeInstanceOf(LeaseLostError);
      expect(runs).toBe(2);
    });
  });
}
