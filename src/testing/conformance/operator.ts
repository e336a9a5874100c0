import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  CommandNotFoundError,
  InvalidStateError,
  PermanentError,
  ValidationError,
} from '../../core/errors.js';
import type { OperatorOptions } from '../../bus/bus.js';
import {
  COMMAND_STATES,
  OPERATOR_ACTIONS,
  OPERATOR_RULES,
  TRANSITIONS,
} from '../../core/lifecycle.js';
import { eventually, expectState, type SuiteContext } from './context.js';
import { act, stateMaker, written } from './lifecycle.js';

export function operatorTests(ctx: SuiteContext): void {
  const { inState } = stateMaker(ctx);
  describe('troubleshooting and operator actions', () => {
    const failing = async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      let fixed = false;
      bus.handle(domain, 'Charge', () => {
        if (!fixed) throw new PermanentError('declined', { code: 'DECLINED' });
        return 'charged';
      });
      bus.handle(domain, 'Other', () => {
        throw new PermanentError('broken', { code: 'BROKEN' });
      });
      const sent = await bus.sendMany([
        { domain, type: 'Charge', data: { n: 1 } },
        { domain, type: 'Charge', data: { n: 2 } },
        { domain, type: 'Charge', data: { n: 3 } },
        { domain, type: 'Other', data: {} },
      ]);
      await ctx.worker(bus);
      await eventually(async () =>
        expect((await bus.countByState(domain)).troubleshooting).toBe(4),
      );
      return { bus, domain, sent, fix: () => (fixed = true) };
    };

    it('lists the troubleshooting queue by domain, type and error code', async () => {
      const { bus, domain, sent } = await failing();
      expect((await bus.listTroubleshooting({ domain })).length).toBe(4);
      expect((await bus.listTroubleshooting({ domain, type: 'Other' })).map((c) => c.id)).toEqual([
        sent[3]!.id,
      ]);
      expect((await bus.listTroubleshooting({ domain, errorCode: 'DECLINED' })).length).toBe(3);
      expect(await bus.listTroubleshooting({ domain: ctx.domain() })).toEqual([]);
    });

    it('counts commands per domain, type and state, as the listing shows them', async () => {
      const { bus, domain, sent, fix } = await failing();
      fix();
      await bus.retry(sent[0]!.id, { actor: 'alice', reason: 'counted' });
      await bus.cancel(sent[1]!.id, { actor: 'bob', reason: 'counted' });
      await expectState(bus, sent[0]!.id, 'completed');
      const counts = await bus.counts(domain);
      expect(
        counts.toSorted((a, b) => `${a.type}${a.state}`.localeCompare(`${b.type}${b.state}`)),
      ).toEqual([
        { domain, type: 'Charge', state: 'cancelled', count: 1 },
        { domain, type: 'Charge', state: 'completed', count: 1 },
        { domain, type: 'Charge', state: 'troubleshooting', count: 1 },
        { domain, type: 'Other', state: 'troubleshooting', count: 1 },
      ]);
      expect(await bus.count({ domain, type: 'Charge' })).toBe(3);
      expect(await bus.count({ domain, state: 'troubleshooting' })).toBe(2);
      expect(await bus.count({ domain, type: 'Other', state: 'troubleshooting' })).toBe(1);
      expect(await bus.count({ domain, errorCode: 'BROKEN' })).toBe(1);
      expect((await bus.counts()).filter((c) => c.domain === domain)).toEqual(counts);
      expect(await bus.counts(ctx.domain())).toEqual([]);
    });

    it('reads the oldest due pending command of each domain, across priorities and types, leaving out the delayed', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      const now = Date.now();
      const at = (minutesAgo: number) => new Date(now - minutesAgo * 60_000);
      // the oldest is neither first by priority nor of the first type
      const [first] = await bus.sendMany([
        { domain, type: 'B', data: {}, runAt: at(60) },
        { domain, type: 'A', data: {}, runAt: at(30), priority: 5 },
        { domain, type: 'A', data: {}, runAt: at(10) },
        { domain, type: 'B', data: {}, runAt: at(20), priority: 1000 },
        { domain, type: 'A', data: {}, delay: '1h' },
      ]);
      expect(await bus.oldestPending(domain)).toEqual([{ domain, runAt: first!.runAt }]);
      expect((await bus.oldestPending()).filter((o) => o.domain === domain)).toEqual([
        { domain, runAt: first!.runAt },
      ]);

      // once the oldest is not pending any more, the next one is the oldest
      await bus.cancel(first!.id, { reason: 'oldest gone' });
      expect(await bus.oldestPending(domain)).toEqual([{ domain, runAt: at(30) }]);

      // only delayed: nothing due; and a domain with no command at all
      const delayedOnly = ctx.domain();
      const later = await bus.send(delayedOnly, 'A', {}, { delay: 300 });
      expect(await bus.oldestPending(delayedOnly)).toEqual([]);
      expect(await bus.oldestPending(ctx.domain())).toEqual([]);
      // once due it counts, whether or not a claim has looked at it since
      await eventually(async () =>
        expect(await bus.oldestPending(delayedOnly)).toEqual([
          { domain: delayedOnly, runAt: later.runAt },
        ]),
      );
    });

    it('retries (attempts reset), cancels and completes, recording who and why', async () => {
      const { bus, sent, fix } = await failing();
      const [retried, cancelled, completed] = sent;
      fix();
      const back = await bus.retry(retried!.id, { actor: 'alice', reason: 'card updated' });
      expect(back).toMatchObject({ state: 'pending', attempts: 0 });
      await expectState(bus, retried!.id, 'completed');
      expect((await bus.get(retried!.id)).attempts).toBe(1);

      await bus.cancel(cancelled!.id, { actor: 'bob', reason: 'customer left' });
      await bus.complete(
        completed!.id,
        { manual: true },
        { actor: 'carol', reason: 'paid by phone' },
      );
      expect(await bus.get(cancelled!.id)).toMatchObject({ state: 'cancelled' });
      expect(await bus.get(completed!.id)).toMatchObject({
        state: 'completed',
        result: { manual: true },
      });

      const retryRecord = (await bus.audit(retried!.id)).find((r) => r.actor === 'alice');
      expect(retryRecord).toMatchObject({
        fromState: 'troubleshooting',
        toState: 'pending',
        reason: 'card updated',
      });
      const cancelRecord = (await bus.audit(cancelled!.id)).at(-1);
      expect(cancelRecord).toMatchObject({
        fromState: 'troubleshooting',
        toState: 'cancelled',
        actor: 'bob',
        reason: 'customer left',
      });
      const completedTrail = await bus.audit(completed!.id);
      expect(completedTrail.at(-1)).toMatchObject({ toState: 'completed', actor: 'carol' });
      // the operator's completion is the only one: none is derived for it besides
      expect(completedTrail.filter((r) => r.toState === 'completed')).toHaveLength(1);
    });

    it('allows each operator action from the states the lifecycle table names, and refuses it from every other', async () => {
      const bus = ctx.bus();
      let n = 0;
      for (const state of COMMAND_STATES) {
        for (const action of OPERATOR_ACTIONS) {
          // Every other case names its operator; the rest get the table's defaults.
          const operator = n++ % 2 ? { actor: `op-${n}`, reason: `why ${n}` } : {};
          const id = await inState(bus, state);
          const before = await bus.get(id);
          const trail = await bus.audit(id);
          const rule = OPERATOR_RULES[action];
          const case_ = `${action} from ${state}`;
          if (!rule.from.includes(state)) {
            const error = await act(bus, action, id, operator).then(
              () => null,
              (e: unknown) => e,
            );
            expect(error, case_).toBeInstanceOf(InvalidStateError);
            expect((error as InvalidStateError).state, case_).toBe(state);
            expect(await bus.get(id), case_).toEqual(before);
            expect(await bus.audit(id), case_).toEqual(trail);
            continue;
          }
          const moved = await act(bus, action, id, operator);
          const transition = TRANSITIONS.find((t) => t.action === action && t.from === state)!;
          expect(moved.state, case_).toBe(rule.to);
          expect(moved.attempts, case_).toBe(
            transition.attempts === 'reset to 0' ? 0 : before.attempts,
          );
          expect((await bus.audit(id)).at(-1), case_).toMatchObject({
            fromState: state,
            toState: rule.to,
            actor: written(transition.audit.actor, operator.actor),
            reason: written(transition.audit.reason, operator.reason),
          });
        }
      }
    });

    it('refuses an action on the wrong state or an unknown id, changing nothing', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      const pending = await bus.send(domain, 'T', {});
      const auditBefore = await bus.audit(pending.id);
      await expect(bus.retry(pending.id)).rejects.toBeInstanceOf(InvalidStateError);
      await expect(bus.complete(pending.id, 1)).rejects.toThrow(/it is pending/);
      await bus.cancel(pending.id, { reason: 'not needed' });
      await expect(bus.cancel(pending.id)).rejects.toThrow(
        /cannot cancel command .* it is cancelled/,
      );
      await expect(bus.retry(randomUUID())).rejects.toBeInstanceOf(CommandNotFoundError);
      await expect(bus.get('nope')).rejects.toBeInstanceOf(CommandNotFoundError);
      expect(await bus.get(pending.id)).toMatchObject({ state: 'cancelled', attempts: 0 });
      expect((await bus.audit(pending.id)).length).toBe(auditBefore.length + 1);
    });

    it('refuses an actor or reason no store can hold, changing nothing', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      const pending = await bus.send(domain, 'T', {});
      const auditBefore = await bus.audit(pending.id);
      const cases: [OperatorOptions, string][] = [
        [{ actor: 'ali\u0000ce' }, 'actor'],
        [{ actor: 'ali\ud800ce' }, 'actor'],
        [{ actor: '' }, 'actor'],
        [{ actor: 42 as unknown as string }, 'actor'],
        [{ reason: 'because\u0000' }, 'reason'],
        [{ reason: 'because \udfff' }, 'reason'],
        [{ reason: 'x'.repeat(10_001) }, 'reason'],
      ];
      for (const [options, path] of cases) {
        const error = await bus.cancel(pending.id, options).then(
          () => null,
          (e: unknown) => e,
        );
        expect(error, path).toBeInstanceOf(ValidationError);
        expect((error as ValidationError).path).toBe(path);
      }
      expect((await bus.get(pending.id)).state).toBe('pending');
      expect(await bus.audit(pending.id)).toEqual(auditBefore);
      await bus.cancel(pending.id, { actor: 'alice \u{1F600}', reason: 'r\u00e9sum\u00e9' });
      expect((await bus.audit(pending.id)).at(-1)).toMatchObject({
        actor: 'alice \u{1F600}',
        reason: 'r\u00e9sum\u00e9',
      });
    });
  });
}
