import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  PayloadTooLargeError,
  UnknownHandlerError,
  ValidationError,
} from '../../../core/errors.js';
import { COPY_AT_LEAST } from '../../../backends/sql/copy.js';
import { CommandBus } from '../../../bus/bus.js';
import { SendCoalescer } from '../../../bus/coalescer.js';
import type { NewCommand } from '../../../core/command.js';
import type { SendOptions } from '../../../core/send-options.js';
import type { SuiteContext } from '../context.js';

export function sendTests(ctx: SuiteContext): void {
  describe('send', () => {
    it('stores a command with its fields and a correlation id of its own', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      const sent = await bus.send(
        domain,
        'Create',
        { n: 1, nested: { ok: true } },
        { priority: 7 },
      );
      const read = await bus.get(sent.id);
      expect(read).toMatchObject({
        domain,
        type: 'Create',
        data: { n: 1, nested: { ok: true } },
        state: 'pending',
        priority: 7,
        attempts: 0,
        correlationId: sent.id,
      });
    });

    it('stores every option of a single send as the send returned it', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      const runAt = new Date(Date.now() + 3600_000);
      const cause = randomUUID();
      const scheduled = await bus.send(
        domain,
        'Schedule',
        { s: 'x' },
        { runAt, maxAttempts: 9, correlationId: 'corr-1', causationId: cause, priority: 4 },
      );
      const delayed = await bus.send(domain, 'Delay', [1, 2], { delay: 60_000 });
      for (const sent of [scheduled, delayed]) {
        const read = await bus.get(sent.id);
        expect(read).toMatchObject({
          domain: sent.domain,
          type: sent.type,
          data: sent.data,
          state: 'pending',
          priority: sent.priority,
          maxAttempts: sent.maxAttempts,
          correlationId: sent.correlationId,
          causationId: sent.causationId,
        });
        expect(read.createdAt.getTime()).toBe(sent.createdAt.getTime());
        expect(read.runAt.getTime()).toBe(sent.runAt.getTime());
      }
      expect(scheduled).toMatchObject({
        maxAttempts: 9,
        correlationId: 'corr-1',
        causationId: cause,
        priority: 4,
      });
      expect(scheduled.runAt.getTime()).toBe(runAt.getTime());
      expect(delayed.runAt.getTime() - delayed.createdAt.getTime()).toBe(60_000);
    });

    it('sends many in one call, in order', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      const sent = await bus.sendMany(
        Array.from({ length: 50 }, (_, i) => ({ domain, type: 'T', data: { i } })),
      );
      expect(sent.map((c) => (c.data as { i: number }).i)).toEqual([...Array(50).keys()]);
      expect((await bus.countByState(domain)).pending).toBe(50);
    });

    it('stores every character of a large send: tabs, newlines, backslashes, quotes, non-ASCII', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      const awkward = 'tab\there\nnew line\r\\back\\slash "quoted" \\N \u00e9\u4e2d\u{1F600}';
      // as many as a store's bulk path takes (the embedded store COPYs from COPY_AT_LEAST)
      const n = Math.max(200, COPY_AT_LEAST);
      const sent = await bus.sendMany(
        Array.from({ length: n }, (_, i) => ({
          domain,
          type: 'T',
          data: { i, text: `${awkward}${i}`, list: [awkward, null, 1.5] },
          correlationId: `${awkward}${i}`,
          priority: i % 3,
        })),
      );
      for (const i of [0, 1, n - 1]) {
        const read = await bus.get(sent[i]!.id);
        expect(read.data).toEqual({ i, text: `${awkward}${i}`, list: [awkward, null, 1.5] });
        expect(read.correlationId).toBe(`${awkward}${i}`);
        expect(read.priority).toBe(i % 3);
        expect(read.createdAt.getTime()).toBe(sent[i]!.createdAt.getTime());
      }
      expect((await bus.countByState(domain)).pending).toBe(n);
    });

    it('coalesces concurrent sends and acknowledges each once stored', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      const sent = await Promise.all(
        Array.from({ length: 64 }, (_, i) => bus.send(domain, 'T', { i })),
      );
      expect(new Set(sent.map((c) => c.id)).size).toBe(64);
      expect((await bus.countByState(domain)).pending).toBe(64);
    });

    it('treats a re-sent command id as a no-op that returns the first command', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      const id = randomUUID();
      const first = await bus.send(domain, 'T', { v: 1 }, { id });
      const again = await bus.send(domain, 'T', { v: 2 }, { id });
      expect(again.id).toBe(first.id);
      expect(again.data).toEqual({ v: 1 });
      expect((await bus.countByState(domain)).pending).toBe(1);
    });

    it('returns the first command for a duplicate idempotency key', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      const first = await bus.send(domain, 'T', { v: 1 }, { idempotencyKey: 'order-42' });
      const [dup] = await bus.sendMany([
        { domain, type: 'T', data: { v: 2 }, idempotencyKey: 'order-42' },
      ]);
      expect(dup!.id).toBe(first.id);
      expect((await bus.countByState(domain)).pending).toBe(1);
    });

    it('refuses invalid input with an error that names it, storing nothing', async () => {
      const bus = ctx.bus({ maxPayloadBytes: 1000 });
      const domain = ctx.domain();
      bus.handle(domain, 'Typed', { schema: z.object({ email: z.string().email() }) }, () => null);
      const cases: [() => Promise<unknown>, string][] = [
        [() => bus.send(domain, 'Typed', { email: 'nope' }), 'data.email'],
        [() => bus.send(domain, 'T', { big: 1n }), 'data.big'],
        [() => bus.send(domain, 'T', { f: () => 1 }), 'data.f'],
        [() => bus.send(domain, 'T', { pad: 'x'.repeat(2000) }), 'data'],
        [() => bus.send(domain, 'T', {}, { priority: -1 }), 'priority'],
        [() => bus.send(domain, 'T', {}, { priority: 'high' as unknown as number }), 'priority'],
        [() => bus.send(domain, 'T', {}, { delay: 'soon' }), 'delay'],
        [() => bus.send(domain, 'T', {}, { maxAttempts: 0 }), 'maxAttempts'],
        [() => bus.send(domain, 'T', {}, { id: 'not-a-uuid' }), 'id'],
        [() => bus.send('', 'T', {}), 'domain'],
        [
          () =>
            bus.sendMany([
              { domain, type: 'T', data: {} },
              { domain, type: 'T', data: { n: NaN } },
            ]),
          'data.n',
        ],
      ];
      for (const [attempt, path] of cases) {
        const error = await attempt().then(
          () => null,
          (e: unknown) => e,
        );
        expect(error, path).toBeInstanceOf(ValidationError);
        expect((error as ValidationError).path).toBe(path);
      }
      await expect(bus.send(domain, 'T', { pad: 'x'.repeat(2000) })).rejects.toBeInstanceOf(
        PayloadTooLargeError,
      );
      const strict = ctx.bus({ strict: true });
      await expect(strict.send(domain, 'Unknown', {})).rejects.toBeInstanceOf(UnknownHandlerError);
      expect(Object.values(await bus.countByState(domain)).reduce((a, b) => a + b, 0)).toBe(0);
    });

    it('refuses a value no store can hold with the error that names it, failing only that send among concurrent ones', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      const sparse: unknown[] = [1];
      sparse[2] = 3;
      const cases: [unknown, SendOptions | null, string][] = [
        [{}, { delay: 1e20 }, 'delay'],
        [{}, { delay: '300000y' }, 'delay'],
        [{}, { runAt: new Date('+010000-01-01T00:00:00Z') }, 'runAt'],
        [{}, { runAt: new Date('1969-12-31T23:59:59Z') }, 'runAt'],
        [{}, { idempotencyKey: 'order\u00004' }, 'idempotencyKey'],
        [{}, { idempotencyKey: 'order\ud8004' }, 'idempotencyKey'],
        [{}, { correlationId: 'corr\u0000' }, 'correlationId'],
        [{}, { correlationId: 'corr\udc00' }, 'correlationId'],
        [{ at: new Date(NaN) }, {}, 'data.at'],
        [{ money: { toJSON: () => undefined } }, {}, 'data.money'],
        [{ list: sparse }, {}, 'data.list[1]'],
        [{}, null, 'options'],
      ];
      for (const [data, options, path] of cases) {
        // the bad send goes between two good ones: alone on the wire or grouped with them,
        // it fails by itself, before anything is stored
        const [before, bad, after] = await Promise.allSettled([
          bus.send(domain, 'T', { ok: 1 }),
          bus.send(domain, 'T', data, options as SendOptions),
          bus.send(domain, 'T', { ok: 2 }),
        ]);
        expect(before.status, path).toBe('fulfilled');
        expect(after.status, path).toBe('fulfilled');
        const error = bad.status === 'rejected' ? (bad.reason as ValidationError) : null;
        expect(error, path).toBeInstanceOf(ValidationError);
        expect(error!.path).toBe(path);
        expect(error!.message).toMatch(new RegExp(`^${path.replace(/[.[\]]/g, '\\$&')}`));
      }
      expect(await bus.countByState(domain)).toMatchObject({ pending: 2 * cases.length });
      // the earliest and latest run times every store holds are accepted, and read back
      const edges = [new Date(0), new Date(Date.UTC(9999, 11, 31, 23, 59, 59, 999))];
      for (const runAt of edges) {
        const sent = await bus.send(domain, 'Edge', {}, { runAt });
        expect((await bus.get(sent.id)).runAt.getTime()).toBe(runAt.getTime());
      }
    });

    it('stores a payload of JSON null, sent alone or together with others', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      const lone = await bus.send(domain, 'T', null);
      const grouped = await Promise.all(
        [null, { n: 1 }, null].map((d) => bus.send(domain, 'T', d)),
      );
      const many = await bus.sendMany([
        { domain, type: 'T', data: null },
        { domain, type: 'T', data: 2 },
      ]);
      for (const sent of [lone, ...grouped, ...many]) {
        expect((await bus.get(sent.id)).data).toEqual(sent.data);
      }
      expect((await bus.countByState(domain)).pending).toBe(6);
    });

    it('answers concurrent sends of one id, or one idempotency key, with the command stored', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      const id = randomUUID();
      // a send on its way makes the next ones wait and go together, in one insert
      const ahead = bus.send(domain, 'Ahead', {});
      const byId = await Promise.all([1, 2, 3].map((v) => bus.send(domain, 'T', { v }, { id })));
      const byKey = await Promise.all(
        [1, 2, 3].map((v) => bus.send(domain, 'T', { v }, { idempotencyKey: 'pay-7' })),
      );
      await ahead;
      for (const group of [byId, byKey]) {
        const stored = await bus.get(group[0]!.id);
        for (const sent of group) {
          expect(sent.id).toBe(stored.id);
          expect(sent.data).toEqual(stored.data);
        }
      }
      expect((await bus.countByState(domain)).pending).toBe(3);
    });

    it('fails only the commands the store refuses when it refuses a group insert', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      // commands the bus would refuse, made by hand: what each store does with a value it
      // cannot hold, and what the group commit does with the others sent with it
      const made = (i: number, bad?: Partial<NewCommand>): NewCommand => ({
        ...bus.prepare({ domain, type: 'T', data: { i } }),
        ...bad,
      });
      const coalescer = SendCoalescer.of(ctx.backend);
      // a small group, as concurrent sends mostly are, and one as large as a store's bulk
      // path takes (the SQL stores COPY from COPY_AT_LEAST fresh commands due at once)
      const rounds: [number, Map<number, Partial<NewCommand>>][] = [
        [
          8,
          new Map([
            [2, { delayMs: 1e20 }],
            [6, { runAt: new Date('+010000-01-01T00:00:00Z') }],
          ]),
        ],
        [COPY_AT_LEAST + 10, new Map([[77, { priority: 'high' as unknown as number }]])],
      ];
      let stored = 0;
      for (const [size, culprits] of rounds) {
        const commands = Array.from({ length: size }, (_, i) => made(i, culprits.get(i)));
        // a send on its way makes the others wait and go together, in one insert
        const ahead = coalescer.send(made(-1));
        const results = await Promise.allSettled(commands.map((c) => coalescer.send(c)));
        await ahead;
        stored += 1 + size - culprits.size;
        expect(results.map((r) => r.status)).toEqual(
          commands.map((_, i) => (culprits.has(i) ? 'rejected' : 'fulfilled')),
        );
        for (const i of culprits.keys()) {
          await expect(bus.get(commands[i]!.id)).rejects.toThrow(/no command with id/);
        }
        for (const i of [0, 1, size - 1]) {
          expect((await bus.get(commands[i]!.id)).data).toEqual({ i });
        }
        expect((await bus.countByState(domain)).pending).toBe(stored);
      }
    });

    it('answers every coalesced send with the error when the store fails, reporting none as stored', async () => {
      // a store of its own, closed: every insert fails as an unreachable store does
      const closed = await ctx.options.open();
      await ctx.options.cleanup?.(closed);
      await closed.close();
      const bus = new CommandBus({ backend: closed, logger: ctx.logger });
      const domain = ctx.domain();
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) => bus.send(domain, 'T', { i })),
      );
      expect(results.map((r) => r.status)).toEqual(Array(20).fill('rejected'));
      const error = (results[5] as PromiseRejectedResult).reason as unknown;
      // a failing store is not a refusal: the group is not split and retried
      expect(closed.isRefusal(error)).toBe(false);
      // and a value a store refuses is one
      const refused = await ctx.backend
        .insertCommands({
          commands: [{ ...bus.prepare({ domain, type: 'T', data: {} }), delayMs: 1e20 }],
        })
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(refused).not.toBeNull();
      expect(ctx.backend.isRefusal(refused)).toBe(true);
    });

    it('keeps delayed and scheduled commands until they are due', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      const later = await bus.send(domain, 'T', {}, { delay: '1h' });
      const scheduled = await bus.send(domain, 'T', {}, { runAt: new Date(Date.now() + 3600_000) });
      // long enough that the claim just below cannot be late for it on a loaded machine
      const soon = await bus.send(domain, 'T', {}, { delay: 2000 });
      const claim = () =>
        ctx.backend.claim({
          workerId: 'w',
          domain,
          types: null,
          limit: 10,
          leaseMs: 5000,
          leaseToken: randomUUID(),
        });
      expect(await claim()).toHaveLength(0);
      const claimed = await (async () => {
        for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
          const got = await claim();
          if (got.length > 0) return got;
          await new Promise((r) => setTimeout(r, 50));
        }
        return [];
      })();
      expect(claimed.map((c) => c.id)).toEqual([soon.id]);
      expect((await bus.get(later.id)).state).toBe('pending');
      expect((await bus.get(scheduled.id)).runAt.getTime()).toBeGreaterThan(Date.now() + 3000_000);
    });

    it('claims higher priority first, then oldest', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      // Several sends share a millisecond (PGlite's clock has no finer grain), so the
      // order among equals rests on the ids' order, which must be the order of the sends.
      const low = await bus.send(domain, 'T', {}, { priority: 1 });
      const high = await bus.send(domain, 'T', {}, { priority: 9 });
      const lows = [low];
      for (let i = 0; i < 8; i++) lows.push(await bus.send(domain, 'T', {}, { priority: 1 }));
      const order: string[] = [];
      for (let i = 0; i < 10; i++) {
        const [c] = await ctx.backend.claim({
          workerId: 'w',
          domain,
          types: null,
          limit: 1,
          leaseMs: 5000,
          leaseToken: randomUUID(),
        });
        order.push(c!.id);
      }
      expect(order).toEqual([high.id, ...lows.map((c) => c.id)]);
    });

    it('sends inside the application transaction: the command exists only if it commits', async () => {
      const { transaction } = ctx.options;
      if (!ctx.backend.capabilities.transactions || !transaction) return;
      const bus = ctx.bus();
      const domain = ctx.domain();
      const committed = await transaction((tx) => bus.send(domain, 'T', { kept: true }, { tx }));
      const rolledBack = await transaction(async (tx) => {
        const sent = await bus.send(domain, 'T', { kept: false }, { tx });
        const [many] = await bus.sendMany([{ domain, type: 'T', data: {} }], { tx });
        throw Object.assign(new Error('application failed'), { ids: [sent.id, many!.id] });
      }).catch((e: { ids: string[] }) => e.ids);
      expect((await bus.get(committed.id)).data).toEqual({ kept: true });
      for (const id of rolledBack) await expect(bus.get(id)).rejects.toThrow(/no command with id/);
      expect((await bus.countByState(domain)).pending).toBe(1);
    });
  });
}
