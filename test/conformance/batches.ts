import { describe, expect, it } from 'vitest';
import { PermanentError, ValidationError } from '../../src/core/errors.js';
import { eventually, type SuiteContext } from './context.js';

export function batchTests(ctx: SuiteContext): void {
  describe('batches', () => {
    it('creates a batch atomically, tracks progress and sends its completion command once', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      const notified: unknown[] = [];
      bus.handle(domain, 'Bill', (data: { n: number }) => {
        if (data.n % 10 === 0) throw new PermanentError('no account');
        return 'billed';
      });
      bus.handle(domain, 'BillingDone', (data) => {
        notified.push(data);
      });
      const batch = await bus.createBatch({
        name: 'January',
        commands: Array.from({ length: 120 }, (_, n) => ({ domain, type: 'Bill', data: { n } })),
        onComplete: { domain, type: 'BillingDone', data: { month: 'January' } },
      });
      expect(batch).toMatchObject({
        name: 'January',
        status: 'pending',
        counts: { total: 120, pending: 120 },
      });
      await ctx.worker(bus, { concurrency: 16 });
      await eventually(async () => expect(notified).toHaveLength(1));
      const done = await bus.getBatch(batch.id);
      expect(done.status).toBe('completed_with_failures');
      expect(done.counts).toMatchObject({
        total: 120,
        completed: 108,
        troubleshooting: 12,
        failed: 12,
        pending: 0,
      });
      expect(notified[0]).toMatchObject({
        batchId: batch.id,
        status: 'completed_with_failures',
        data: { month: 'January' },
      });
      // Finishing again (another worker, a restart) sends nothing more.
      expect(await ctx.backend.finishBatches({ batchIds: [batch.id] })).toEqual([]);
      expect((await bus.list({ domain, type: 'BillingDone' })).length).toBe(1);
    });

    it('counts running, waiting and cancelled commands while the batch is open', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let started!: () => void;
      const running = new Promise<void>((resolve) => (started = resolve));
      bus.handle(domain, 'Slow', async () => {
        started();
        await gate;
      });
      const batch = await bus.createBatch({
        commands: [
          { domain, type: 'Slow', data: {} },
          { domain, type: 'Later', data: { n: 1 } },
          { domain, type: 'Later', data: { n: 2 } },
        ],
      });
      const [cancelled] = await bus.list({ domain, type: 'Later' });
      await bus.cancel(cancelled!.id);
      await ctx.worker(bus, { types: ['Slow'] });
      await running;
      expect((await bus.getBatch(batch.id)).counts).toEqual({
        total: 3,
        pending: 1,
        inProgress: 1,
        completed: 0,
        cancelled: 1,
        troubleshooting: 0,
        failed: 0,
      });
      release();
      await eventually(async () =>
        expect((await bus.getBatch(batch.id)).counts).toMatchObject({
          pending: 1,
          inProgress: 0,
          completed: 1,
          cancelled: 1,
        }),
      );
      expect((await bus.getBatch(batch.id)).status).toBe('in_progress');
    });

    it('stores none of a batch whose commands are invalid', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      const commands = [
        { domain, type: 'T', data: { ok: 1 } },
        { domain, type: 'T', data: { bad: 1n } },
      ];
      await expect(bus.createBatch({ commands })).rejects.toThrow(/commands\[1\] data.bad/);
      expect((await bus.countByState(domain)).pending).toBe(0);
    });

    it('refuses a batch name no store can hold, or a completion command no handler could take, storing nothing', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      for (const name of ['Jan\u0000uary', 'Jan\ud800', '', 'x'.repeat(256)]) {
        const error = await bus
          .createBatch({ name, commands: [{ domain, type: 'T', data: {} }] })
          .then(
            () => null,
            (e: unknown) => e,
          );
        expect(error, name).toBeInstanceOf(ValidationError);
        expect((error as ValidationError).path).toBe('name');
      }
      for (const [onComplete, path] of [
        [{ domain: '', type: 'Done' }, 'onComplete.domain'],
        [{ domain, type: 'Do ne\u0000' }, 'onComplete.type'],
      ] as const) {
        const error = await bus
          .createBatch({ onComplete, commands: [{ domain, type: 'T', data: {} }] })
          .then(
            () => null,
            (e: unknown) => e,
          );
        expect(error, path).toBeInstanceOf(ValidationError);
        expect((error as ValidationError).path).toBe(path);
      }
      expect((await bus.countByState(domain)).pending).toBe(0);
    });

    it('finishes a batch as completed when every command succeeded, and when the last is cancelled', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      const batch = await bus.createBatch({ commands: [{ domain, type: 'T', data: {} }] });
      const [only] = await bus.list({ domain });
      await bus.cancel(only!.id);
      await eventually(async () => {
        await ctx.backend.finishBatches({});
        expect((await bus.getBatch(batch.id)).status).toBe('completed_with_failures');
      });
      bus.handle(domain, 'Ok', () => 'ok');
      const good = await bus.createBatch({ commands: [{ domain, type: 'Ok', data: {} }] });
      await ctx.worker(bus);
      await eventually(async () => expect((await bus.getBatch(good.id)).status).toBe('completed'));
    });
  });
}
