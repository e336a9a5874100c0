import { describe, expect, it } from 'vitest';
import type { BatchInfo } from '../../../backends/backend.js';
import type { CommandBus } from '../../../bus/bus.js';
import { PermanentError, ValidationError } from '../../../core/errors.js';
import { eventually, expectState, type SuiteContext } from '../context.js';

/** Waits for the batch to finish (its completion command sent) and returns it. */
async function finished(bus: CommandBus, id: string): Promise<BatchInfo> {
  return eventually(async () => {
    const batch = await bus.getBatch(id);
    expect(batch.finishedAt).not.toBeNull();
    return batch;
  });
}

const none = {
  pending: 0,
  inProgress: 0,
  completed: 0,
  cancelled: 0,
  troubleshooting: 0,
  failed: 0,
};

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
      await eventually(() => expect(notified).toHaveLength(1));
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

    it('counts a finished batch live after an operator retry of a failed member and its later success; the completion command is sent once', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      let fixed = false;
      bus.handle(domain, 'Bill', (data: { n: number }) => {
        if (data.n === 0 && !fixed) throw new PermanentError('no account');
        return 'billed';
      });
      const batch = await bus.createBatch({
        commands: [0, 1, 2].map((n) => ({ domain, type: 'Bill', data: { n } })),
        onComplete: { domain, type: 'BillingDone', data: {} },
      });
      const first = await ctx.worker(bus, { types: ['Bill'] });
      const atFinish = await finished(bus, batch.id);
      expect(atFinish.status).toBe('completed_with_failures');
      expect(atFinish.counts).toEqual({
        ...none,
        total: 3,
        completed: 2,
        troubleshooting: 1,
        failed: 1,
      });
      await first.stop(2000);

      const [failed] = await bus.list({ domain, state: 'troubleshooting' });
      await bus.retry(failed!.id);
      const retried = await bus.getBatch(batch.id);
      // Live: the member waits again (its failed attempt still counts as failed), so the
      // batch is in progress again; when it first finished does not change.
      expect(retried.counts).toEqual({ ...none, total: 3, pending: 1, completed: 2, failed: 1 });
      expect(retried.status).toBe('in_progress');
      expect(retried.finishedAt).toEqual(atFinish.finishedAt);
      expect(retried.completionCommandId).toBe(atFinish.completionCommandId);

      fixed = true;
      await ctx.worker(bus, { types: ['Bill'] });
      await expectState(bus, failed!.id, 'completed');
      const done = await bus.getBatch(batch.id);
      expect(done.counts).toEqual({ ...none, total: 3, completed: 3 });
      expect(done.status).toBe('completed');
      expect(done.finishedAt).toEqual(atFinish.finishedAt);

      // The completion command went out once, at the finish, with the counts of then.
      expect(await ctx.backend.finishBatches({ batchIds: [batch.id] })).toEqual([]);
      const sent = await bus.list({ domain, type: 'BillingDone' });
      expect(sent.map((c) => c.id)).toEqual([atFinish.completionCommandId]);
      expect(sent[0]!.data).toMatchObject({
        status: 'completed_with_failures',
        counts: { completed: 2, troubleshooting: 1 },
      });
    });

    it('counts a finished batch live after an operator cancels, completes, or retries then cancels its members', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      bus.handle(domain, 'Fail', () => {
        throw new PermanentError('never works');
      });
      const batch = await bus.createBatch({
        commands: [0, 1, 2, 3].map((n) => ({ domain, type: 'Fail', data: { n } })),
      });
      const worker = await ctx.worker(bus);
      const atFinish = await finished(bus, batch.id);
      expect(atFinish.counts).toEqual({ ...none, total: 4, troubleshooting: 4, failed: 4 });
      await worker.stop(2000);
      const ids = (await bus.list({ domain, state: 'troubleshooting' })).map((c) => c.id);
      expect(ids).toHaveLength(4);

      await bus.cancel(ids[0]!);
      expect(await bus.getBatch(batch.id)).toMatchObject({
        status: 'completed_with_failures',
        counts: { ...none, total: 4, cancelled: 1, troubleshooting: 3, failed: 3 },
      });
      await bus.complete(ids[1]!, { byHand: true });
      await bus.retry(ids[2]!);
      expect(await bus.getBatch(batch.id)).toMatchObject({
        status: 'in_progress',
        counts: {
          ...none,
          total: 4,
          pending: 1,
          completed: 1,
          cancelled: 1,
          troubleshooting: 1,
          failed: 2,
        },
      });
      await bus.cancel(ids[2]!);
      await bus.complete(ids[3]!);
      const now = await bus.getBatch(batch.id);
      expect(now.counts).toEqual({ ...none, total: 4, completed: 2, cancelled: 2 });
      expect(now.status).toBe('completed_with_failures');
      expect(now.finishedAt).toEqual(atFinish.finishedAt);
    });

    it('keeps counting a cancelled member after retention has pruned it', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      const batch = await bus.createBatch({
        commands: [0, 1].map((n) => ({ domain, type: 'NoHandler', data: { n } })),
      });
      const [first] = await bus.list({ domain });
      await bus.cancel(first!.id);
      await eventually(async () => {
        await ctx.backend.prune({ olderThanMs: 0, limit: 1000 });
        expect(await ctx.backend.getCommand(first!.id)).toBeNull();
      });
      expect(await bus.getBatch(batch.id)).toMatchObject({
        status: 'in_progress',
        counts: { ...none, total: 2, pending: 1, cancelled: 1 },
      });
    });

    it('retention keeps a finished batch while a member waits for an operator, and deletes it once settled', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      bus.handle(domain, 'Bill', (data: { n: number }) => {
        if (data.n === 0) throw new PermanentError('no account');
      });
      bus.handle(domain, 'BillingDone', () => {});
      const batch = await bus.createBatch({
        commands: [0, 1].map((n) => ({ domain, type: 'Bill', data: { n } })),
        onComplete: { domain, type: 'BillingDone', data: {} },
      });
      const worker = await ctx.worker(bus);
      const atFinish = await finished(bus, batch.id);
      await expectState(bus, atFinish.completionCommandId!, 'completed');
      await worker.stop(2000);
      // Once retention has taken the completion command, sent after the finish, its
      // cut-off is past the finish too.
      await eventually(async () => {
        await ctx.backend.prune({ olderThanMs: 0, limit: 1000 });
        expect(await ctx.backend.getCommand(atFinish.completionCommandId!)).toBeNull();
      });
      expect((await bus.getBatch(batch.id)).counts).toMatchObject({ troubleshooting: 1 });

      const [failed] = await bus.list({ domain, state: 'troubleshooting' });
      await bus.cancel(failed!.id);
      await eventually(async () => {
        await ctx.backend.prune({ olderThanMs: 0, limit: 1000 });
        await expect(bus.getBatch(batch.id)).rejects.toThrow(/no batch/);
      });
    });
  });
}
