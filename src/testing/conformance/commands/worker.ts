import { describe, expect, it } from 'vitest';
import type { HandlerContext } from '../../../core/context.js';
import { PermanentError, SnoozeError, TransientError } from '../../../core/errors.js';
import { eventually, expectState, type SuiteContext } from '../context.js';

export function workerTests(ctx: SuiteContext): void {
  describe('worker', () => {
    it('runs the handler once, stores its result and audits every transition', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      const seen: HandlerContext[] = [];
      bus.handle(domain, 'Add', (data: { a: number; b: number }, c) => {
        seen.push(c);
        return { sum: data.a + data.b };
      });
      const sent = await bus.send(domain, 'Add', { a: 2, b: 3 });
      const worker = await ctx.worker(bus);
      await expectState(bus, sent.id, 'completed');
      expect((await bus.get(sent.id)).result).toEqual({ sum: 5 });
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatchObject({
        commandId: sent.id,
        type: 'Add',
        attempt: 1,
        correlationId: sent.id,
      });
      const trail = await bus.audit(sent.id);
      expect(trail.map((r) => [r.fromState, r.toState])).toEqual([
        [null, 'pending'],
        ['pending', 'in_progress'],
        ['in_progress', 'completed'],
      ]);
      expect(trail[2]).toMatchObject({
        workerId: worker.workerId,
        attempt: 1,
        reason: 'succeeded',
      });
      expect(trail[2]!.at.getTime()).toBeGreaterThanOrEqual(trail[1]!.at.getTime());
    });

    it('retries a transient failure and records the error of each failed attempt', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      bus.handle(domain, 'Flaky', { backoff: { type: 'fixed', delay: 0 } }, (_d, c) => {
        if (c.attempt < 3) throw new TransientError('gateway timeout', { code: 'GATEWAY_TIMEOUT' });
        return 'ok';
      });
      const sent = await bus.send(domain, 'Flaky', {});
      await ctx.worker(bus);
      await expectState(bus, sent.id, 'completed');
      const command = await bus.get(sent.id);
      expect(command.attempts).toBe(3);
      const failures = (await bus.audit(sent.id)).filter((r) => r.error);
      expect(failures.map((r) => [r.attempt, r.error?.code, r.toState])).toEqual([
        [1, 'GATEWAY_TIMEOUT', 'pending'],
        [2, 'GATEWAY_TIMEOUT', 'pending'],
      ]);
    });

    it('sends a permanent error straight to troubleshooting with its code and details', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      let runs = 0;
      bus.handle(domain, 'Pay', () => {
        runs++;
        throw new PermanentError('card declined', {
          code: 'DECLINED',
          details: { reason: 'insufficient funds' },
        });
      });
      const sent = await bus.send(domain, 'Pay', {});
      await ctx.worker(bus);
      await expectState(bus, sent.id, 'troubleshooting');
      expect(runs).toBe(1);
      expect((await bus.get(sent.id)).lastError).toEqual({
        code: 'DECLINED',
        message: 'card declined',
        details: { reason: 'insufficient funds' },
      });
    });

    it('writes the outcomes of more commands than one store call takes, each once', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      const count = 2_500;
      const runs = new Map<number, number>();
      bus.handle(domain, 'Tick', (data: { i: number }) => {
        runs.set(data.i, (runs.get(data.i) ?? 0) + 1);
        return data.i;
      });
      const sent = await bus.sendMany(
        Array.from({ length: count }, (_, i) => ({ domain, type: 'Tick', data: { i } })),
      );
      const worker = await ctx.worker(bus, { concurrency: 64 });
      await eventually(async () => expect((await bus.countByState(domain)).completed).toBe(count));
      await worker.idle();
      expect(runs.size).toBe(count);
      expect([...runs.values()].every((n) => n === 1)).toBe(true);
      expect(worker.stats.completed).toBe(count);
      expect((await bus.get(sent[count - 1]!.id)).result).toBe(count - 1);
    });

    it('moves a command to troubleshooting when its attempts run out', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      bus.handle(
        domain,
        'Fail',
        { maxAttempts: 2, backoff: { type: 'schedule', delays: [0] } },
        () => {
          throw new Error('boom');
        },
      );
      const sent = await bus.send(domain, 'Fail', {});
      await ctx.worker(bus);
      await expectState(bus, sent.id, 'troubleshooting');
      expect((await bus.get(sent.id)).attempts).toBe(2);
      expect((await bus.listTroubleshooting({ domain })).map((c) => c.id)).toEqual([sent.id]);
    });

    it("applies the worker's handler policy when the send named no maxAttempts and the sender has no handler", async () => {
      const domain = ctx.domain();
      // the usual deployment: a web process sends, a worker process handles
      const sender = ctx.bus();
      const workerBus = ctx.bus();
      const seen: number[] = [];
      workerBus.handle(
        domain,
        'Fail',
        { maxAttempts: 2, backoff: { type: 'schedule', delays: [0] } },
        (_d, c) => {
          seen.push(c.maxAttempts);
          throw new Error('boom');
        },
      );
      const unnamed = await sender.send(domain, 'Fail', {});
      const named = await sender.send(domain, 'Fail', {}, { maxAttempts: 3 });
      expect(unnamed.maxAttempts).toBeNull();
      expect((await sender.get(unnamed.id)).maxAttempts).toBeNull();
      expect(named.maxAttempts).toBe(3);
      await ctx.worker(workerBus);
      await expectState(sender, unnamed.id, 'troubleshooting');
      await expectState(sender, named.id, 'troubleshooting');
      expect(await sender.get(unnamed.id)).toMatchObject({ attempts: 2, maxAttempts: 2 });
      expect(await sender.get(named.id)).toMatchObject({ attempts: 3, maxAttempts: 3 });
      expect(seen.sort()).toEqual([2, 2, 3, 3, 3]);
    });

    it('snoozes without spending an attempt', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      let runs = 0;
      bus.handle(domain, 'Wait', { maxAttempts: 1 }, () => {
        runs++;
        if (runs < 3) throw new SnoozeError(0, 'not yet');
        return 'done';
      });
      const sent = await bus.send(domain, 'Wait', {});
      await ctx.worker(bus);
      await expectState(bus, sent.id, 'completed');
      expect(runs).toBe(3);
      expect((await bus.get(sent.id)).attempts).toBe(1);
    });

    it('aborts the signal of a handler past its timeout and retries it', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      let aborted = 0;
      bus.handle(
        domain,
        'Slow',
        { timeout: 100, maxAttempts: 2, backoff: { type: 'fixed', delay: 0 } },
        (_d, c) => {
          if (c.attempt === 2) return 'fast now';
          return new Promise((resolve) =>
            c.signal.addEventListener('abort', () => resolve(aborted++)),
          );
        },
      );
      const sent = await bus.send(domain, 'Slow', {});
      await ctx.worker(bus);
      await expectState(bus, sent.id, 'completed');
      expect(aborted).toBe(1);
      expect((await bus.audit(sent.id)).find((r) => r.error)?.error?.code).toBe('TIMEOUT');
    });

    it('runs middleware in order around every handler and passes follow-ups the correlation id', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      // Calls are recorded per type: the child may start before the parent's
      // middleware unwinds, since its send wakes the worker.
      const calls: string[] = [];
      bus.use(async (c, next) => {
        calls.push(`${c.type}:outer:before`);
        const r = await next();
        calls.push(`${c.type}:outer:after`);
        return r;
      });
      bus.use(async (c, next) => {
        calls.push(`${c.type}:inner`);
        return next();
      });
      // destructured: the context's methods must not depend on being called on it
      // eslint-disable-next-line @typescript-eslint/unbound-method -- what this test checks
      bus.handle(domain, 'Parent', async (_d, { send }) => {
        calls.push('Parent:handler');
        // options left undefined keep the defaults taken from the parent
        await send(domain, 'Child', {}, { correlationId: undefined, causationId: undefined });
      });
      bus.handle(domain, 'Child', () => {
        calls.push('Child:handler');
      });
      const parent = await bus.send(domain, 'Parent', {}, { correlationId: 'trace-1' });
      await ctx.worker(bus);
      await expectState(bus, parent.id, 'completed');
      const [child] = await bus.list({ domain, type: 'Child' });
      expect(child).toMatchObject({ correlationId: 'trace-1', causationId: parent.id });
      await expectState(bus, child!.id, 'completed');
      for (const type of ['Parent', 'Child']) {
        const mine = calls.filter((call) => call.startsWith(`${type}:`));
        expect(mine).toEqual(
          ['outer:before', 'inner', 'handler', 'outer:after'].map((s) => `${type}:${s}`),
        );
      }
    });

    it('keeps per-handler concurrency within its limit', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      let running = 0;
      let peak = 0;
      bus.handle(domain, 'Capped', { concurrency: 2 }, async () => {
        peak = Math.max(peak, ++running);
        await new Promise((r) => setTimeout(r, 20));
        running--;
      });
      await bus.sendMany(Array.from({ length: 12 }, () => ({ domain, type: 'Capped', data: {} })));
      const worker = await ctx.worker(bus, { concurrency: 8 });
      await eventually(async () => expect((await bus.countByState(domain)).completed).toBe(12));
      // stats count an outcome once its write has returned, which can be after another
      // connection already sees it
      await worker.idle();
      expect(peak).toBe(2);
      expect(worker.stats.completed).toBe(12);
    });

    it('claims only the types it is limited to, and sends unknown types to troubleshooting', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      bus.handle(domain, 'A', () => 'a');
      bus.handle(domain, 'B', () => 'b');
      const b = await bus.send(domain, 'B', {});
      const a = await bus.send(domain, 'A', {});
      const onlyA = await ctx.worker(bus, { types: ['A'] });
      await expectState(bus, a.id, 'completed');
      await onlyA.idle();
      expect((await bus.get(b.id)).state).toBe('pending');
      const unknown = await bus.send(domain, 'Nobody', {});
      await ctx.worker(bus);
      await expectState(bus, unknown.id, 'troubleshooting');
      expect((await bus.get(unknown.id)).lastError?.code).toBe('UNKNOWN_HANDLER');
    });

    /** A worker that polls only once a minute, after its first (empty) claim: woken or not at all. */
    async function idleWorker() {
      const bus = ctx.bus();
      const domain = ctx.domain();
      bus.handle(domain, 'Ping', () => 'pong');
      const worker = await ctx.worker(bus, { pollIntervalMs: 60_000 });
      await worker.idle();
      return { bus, domain, started: Date.now() };
    }

    it('wakes an idle worker at once when a command is sent', async () => {
      const { bus, domain, started } = await idleWorker();
      const sent = await bus.send(domain, 'Ping', {});
      await expectState(bus, sent.id, 'completed');
      if (ctx.backend.capabilities.wakeups) expect(Date.now() - started).toBeLessThan(5000);
    });

    it('wakes an idle worker at once when a large batch is sent', async () => {
      const { bus, domain, started } = await idleWorker();
      await bus.sendMany(Array.from({ length: 300 }, () => ({ domain, type: 'Ping', data: {} })));
      await eventually(async () => expect((await bus.countByState(domain)).completed).toBe(300));
      if (ctx.backend.capabilities.wakeups) expect(Date.now() - started).toBeLessThan(5000);
    });

    it('hands back unfinished work at shutdown without spending attempts', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let startedCount = 0;
      bus.handle(domain, 'Block', async (_d, c) => {
        startedCount++;
        await Promise.race([gate, new Promise((r) => c.signal.addEventListener('abort', r))]);
      });
      const sent = await bus.sendMany(
        Array.from({ length: 6 }, () => ({ domain, type: 'Block', data: {} })),
      );
      const worker = await ctx.worker(bus, { concurrency: 2, prefetch: 4 });
      await eventually(() => expect(startedCount).toBe(2));
      await worker.stop(200);
      release();
      const states = await Promise.all(sent.map((c) => bus.get(c.id)));
      expect(states.map((c) => [c.state, c.attempts])).toEqual(sent.map(() => ['pending', 0]));
    });

    it('lets running handlers finish at shutdown, writes their outcome and returns at once', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      let started!: () => void;
      const running = new Promise<void>((r) => (started = r));
      let handlerEnded = 0;
      bus.handle(domain, 'Finish', async (_d, c) => {
        started();
        await new Promise((r) => setTimeout(r, 200));
        await c.send(domain, 'FollowUp', {});
        handlerEnded = Date.now();
        return 'finished';
      });
      const sent = await bus.send(domain, 'Finish', {});
      const worker = await ctx.worker(bus);
      await running;
      // "At once": when its last handler has ended and its outcome is written, not when the
      // 30 s allowed for the handlers are up.
      await worker.stop(30_000);
      expect(handlerEnded).toBeGreaterThan(0);
      expect(Date.now() - handlerEnded).toBeLessThan(2000);
      expect(await bus.get(sent.id)).toMatchObject({ state: 'completed', result: 'finished' });
      expect((await bus.list({ domain, type: 'FollowUp' })).length).toBe(1);
    });

    it('completes a transactional handler together with its own writes, or neither', async () => {
      if (!ctx.backend.capabilities.transactions || !ctx.options.sql) return;
      const sql = ctx.options.sql();
      const table = `effects_${ctx.domain().replace(/-/g, '_')}`;
      await sql.query(`CREATE TABLE ${table} (command_id uuid NOT NULL)`);
      const bus = ctx.bus();
      const domain = ctx.domain();
      bus.handle(
        domain,
        'Write',
        { transactional: true, maxAttempts: 1 },
        async (data: { fail: boolean }, c) => {
          await c.tx!.query(`INSERT INTO ${table} (command_id) VALUES ($1)`, [c.commandId]);
          if (data.fail) throw new PermanentError('after the write');
          return 'written';
        },
      );
      const ok = await bus.send(domain, 'Write', { fail: false });
      const bad = await bus.send(domain, 'Write', { fail: true });
      await ctx.worker(bus);
      await expectState(bus, ok.id, 'completed');
      await expectState(bus, bad.id, 'troubleshooting');
      const rows = await sql.query<{ command_id: string }>(`SELECT command_id FROM ${table}`);
      expect(rows.rows.map((r) => r.command_id)).toEqual([ok.id]);
      await sql.query(`DROP TABLE ${table}`);
    });
  });
}
