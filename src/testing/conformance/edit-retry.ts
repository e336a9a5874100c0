/**
 * Edit then retry (the operator role's retry with `dataJson`): the payload is replaced
 * in the same atomic step as the move to pending, and the audit record of the retry
 * keeps the payload before and after it (AuditRecord.details).
 */
import { describe, expect, it } from 'vitest';
import { InvalidStateError } from '../../core/errors.js';
import type { CommandState } from '../../core/states.js';
import type { SuiteContext } from './context.js';
import { stateMaker } from './lifecycle.js';

export function editRetryTests(ctx: SuiteContext): void {
  const { inState } = stateMaker(ctx);
  describe('edit then retry', () => {
    it('replaces the payload and audits both payloads with the actor and reason', async () => {
      const bus = ctx.bus();
      const id = await inState(bus, 'troubleshooting');
      const data = { card: '4242', note: 'two\nlines', amounts: [1, 2.5], nested: { ok: true } };
      const moved = await bus.retry(id, { data, actor: 'alice', reason: 'card fixed' });
      expect(moved).toMatchObject({ state: 'pending', attempts: 0, data });
      expect((await bus.get(id)).data).toEqual(data);
      expect((await bus.audit(id)).at(-1)).toMatchObject({
        fromState: 'troubleshooting',
        toState: 'pending',
        actor: 'alice',
        reason: 'card fixed',
        details: { dataBefore: {}, dataAfter: data },
      });
    });

    it('keeps the trail readable when the new JSON text has line breaks, and what follows it', async () => {
      const bus = ctx.bus();
      const id = await inState(bus, 'troubleshooting');
      await ctx.backend.operate({
        action: 'retry',
        id,
        actor: 'bob',
        reason: null,
        dataJson: '{\n  "a": [1,\n 2],\r\n "b": "x\\ny"\n}',
      });
      await bus.cancel(id, { actor: 'carol', reason: 'after the edit' });
      const trail = await bus.audit(id);
      const after = { a: [1, 2], b: 'x\ny' };
      expect((await bus.get(id)).data).toEqual(after);
      expect(trail.at(-2)).toMatchObject({
        actor: 'bob',
        details: { dataBefore: {}, dataAfter: after },
      });
      expect(trail.at(-1)).toMatchObject({ toState: 'cancelled', actor: 'carol' });
      expect(trail.at(-1)!.details ?? null).toBeNull();
    });

    it('changes nothing, neither payload nor state, from a state retry does not start from', async () => {
      const bus = ctx.bus();
      const states: CommandState[] = ['pending', 'in_progress', 'completed', 'cancelled'];
      for (const state of states) {
        const id = await inState(bus, state);
        const before = await bus.get(id);
        const trail = await bus.audit(id);
        const error = await bus.retry(id, { data: { edited: true }, actor: 'eve' }).then(
          () => null,
          (e: unknown) => e,
        );
        expect(error, state).toBeInstanceOf(InvalidStateError);
        expect(await bus.get(id), state).toEqual(before);
        expect(await bus.audit(id), state).toEqual(trail);
      }
    });

    it('a retry without data keeps the payload and audits no details', async () => {
      const bus = ctx.bus();
      const id = await inState(bus, 'troubleshooting');
      const before = await bus.get(id);
      const moved = await bus.retry(id, { actor: 'dave' });
      expect(moved.data).toEqual(before.data);
      const record = (await bus.audit(id)).at(-1)!;
      expect(record).toMatchObject({ toState: 'pending', actor: 'dave' });
      expect(record.details ?? null).toBeNull();
    });
  });
}
