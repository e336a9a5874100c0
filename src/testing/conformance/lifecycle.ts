import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { CommandBus, OperatorOptions } from '../../bus/bus.js';
import type { ClaimedCommand, Command } from '../../core/command.js';
import {
  TRANSITIONS,
  type AttemptEffect,
  type CommandState,
  type GivenText,
  type OperatorAction,
  type Transition,
} from '../../core/lifecycle.js';
import { eventually, type SuiteContext } from './context.js';

/** What an audit record holds for a field of the table: its fixed text, or what was given. */
export function written(text: string | GivenText | null, given: string | undefined): string | null {
  return text === null || typeof text === 'string' ? text : (given ?? text.default ?? null);
}

/** An operator action through the bus, as the CLI and an application make it. */
export function act(
  bus: CommandBus,
  action: OperatorAction,
  id: string,
  operator: OperatorOptions,
): Promise<Command> {
  if (action === 'complete') return bus.complete(id, { by: 'hand' }, operator);
  return action === 'retry' ? bus.retry(id, operator) : bus.cancel(id, operator);
}

const WORKER = 'lifecycle-test';
const RELEASE_REASON = 'handed back by the test';

/**
 * Commands put in a state the way the store's own transitions put them there: a claim and
 * a settlement straight on the backend, where a worker would make them. A state added to
 * the lifecycle table must get its way here (the Record makes the compiler ask for it).
 */
export function stateMaker(ctx: SuiteContext) {
  const claimed = async (
    bus: CommandBus,
    options: { leaseMs?: number; maxAttempts?: number } = {},
  ): Promise<ClaimedCommand> => {
    const domain = ctx.domain();
    await bus.send(domain, 'T', {}, { maxAttempts: options.maxAttempts });
    const [c] = await ctx.backend.claim({
      workerId: WORKER,
      domain,
      types: null,
      limit: 1,
      leaseMs: options.leaseMs ?? 60_000,
      leaseToken: randomUUID(),
    });
    return c!;
  };
  const settle = async (
    c: ClaimedCommand,
    kind: 'complete' | 'retry' | 'troubleshoot' | 'release',
  ) => {
    const base = { id: c.id, leaseToken: c.leaseToken, attempt: c.attempts, domain: c.domain };
    const error = { code: 'BROKEN', message: 'broken' };
    const settlement =
      kind === 'complete'
        ? { ...base, kind, resultJson: null }
        : kind === 'release'
          ? { ...base, kind, delayMs: 0, reason: RELEASE_REASON }
          : kind === 'retry'
            ? { ...base, kind, delayMs: 0, error }
            : { ...base, kind, error };
    const settled = await ctx.backend.settle({ workerId: WORKER, settlements: [settlement] });
    expect(settled.applied).toEqual([c.id]);
    return kind === 'release' ? RELEASE_REASON : undefined;
  };
  const makers: Record<CommandState, (bus: CommandBus) => Promise<string>> = {
    pending: async (bus) => (await bus.send(ctx.domain(), 'T', {})).id,
    in_progress: async (bus) => (await claimed(bus)).id,
    completed: async (bus) => {
      const c = await claimed(bus);
      await settle(c, 'complete');
      return c.id;
    },
    troubleshooting: async (bus) => {
      const c = await claimed(bus);
      await settle(c, 'troubleshoot');
      return c.id;
    },
    cancelled: async (bus) => {
      const { id } = await bus.send(ctx.domain(), 'T', {});
      await bus.cancel(id);
      return id;
    },
  };
  const inState = async (bus: CommandBus, state: CommandState) => {
    const id = await makers[state](bus);
    expect((await bus.get(id)).state).toBe(state);
    return id;
  };
  return { inState, claimed, settle };
}

/** Where a transition leaves `attempts`, from where it found them. */
function attemptsAfter(effect: AttemptEffect, before: number): number {
  switch (effect) {
    case '+1':
      return before + 1;
    case 'given back':
      return before - 1;
    case 'reset to 0':
      return 0;
    case 'counts':
    case 'none':
      return before;
  }
}

/**
 * Every transition of the lifecycle table, made on the store, moves the command where
 * the table says, does to its attempts what the table says and is audited as the table
 * says: the docs generated from the table describe every store.
 */
export function lifecycleTests(ctx: SuiteContext): void {
  const { inState, claimed, settle } = stateMaker(ctx);
  const expireLease = async (bus: CommandBus, maxAttempts: number) => {
    const c = await claimed(bus, { leaseMs: 50, maxAttempts });
    await eventually(async () => {
      await ctx.backend.recoverExpiredLeases({ limit: 100 });
      expect((await bus.get(c.id)).state).not.toBe('in_progress');
    });
    return c.id;
  };
  /** Makes the transition: the command, its attempts before, and any reason given for it. */
  type Maker = (
    bus: CommandBus,
    t: Transition,
  ) => Promise<{ id: string; before: number; reason?: string }>;
  const worker =
    (kind: 'complete' | 'retry' | 'troubleshoot' | 'release'): Maker =>
    async (bus) => {
      const c = await claimed(bus);
      const reason = await settle(c, kind);
      return { id: c.id, before: c.attempts, reason };
    };
  const operator: Maker = async (bus, t) => {
    const id = await inState(bus, t.from!);
    const before = (await bus.get(id)).attempts;
    await act(bus, t.action!, id, {});
    return { id, before };
  };
  const makers: Record<string, Maker> = {
    send: async (bus) => ({ id: (await bus.send(ctx.domain(), 'T', {})).id, before: 0 }),
    claim: async (bus) => ({ id: (await claimed(bus)).id, before: 0 }),
    succeed: worker('complete'),
    'retry after failure': worker('retry'),
    release: worker('release'),
    'lease expired': async (bus) => ({ id: await expireLease(bus, 3), before: 1 }),
    fail: worker('troubleshoot'),
    'lease expired, none left': async (bus) => ({ id: await expireLease(bus, 1), before: 1 }),
    'operator retry': operator,
    'operator complete': operator,
    cancel: operator,
    'cancel from troubleshooting': operator,
  };

  describe('the lifecycle table', () => {
    it('has a way here to make each of its transitions', () => {
      expect(Object.keys(makers).sort()).toEqual(TRANSITIONS.map((t) => t.name).sort());
    });

    it('describes every transition the store makes: target, attempts and audit record', async () => {
      const bus = ctx.bus();
      for (const t of TRANSITIONS) {
        const make = makers[t.name];
        if (!make) continue; // reported by the test above
        const { id, before, reason } = await make(bus, t);
        const command = await bus.get(id);
        expect(command.state, t.name).toBe(t.to);
        expect(command.attempts, t.name).toBe(attemptsAfter(t.attempts, before));
        const record = (await bus.audit(id)).at(-1);
        expect(record, t.name).toMatchObject({
          fromState: t.from,
          toState: t.to,
          actor: written(t.audit.actor, undefined),
          reason: written(t.audit.reason, reason),
        });
      }
    });
  });
}
