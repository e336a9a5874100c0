import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Backend, BatchInfo } from '../../../backends/backend.js';
import { BatchFinisher } from '../../../worker/maintenance.js';
import { eventually, type SuiteContext } from '../context.js';

/**
 * Completes `n` pending commands of `domain` the way a worker does, but without finishing
 * their batches: as if the worker died after the settle, before its batch check.
 */
async function completeWithoutFinishing(backend: Backend, domain: string, n: number) {
  const leaseToken = randomUUID();
  const claimed = await backend.claim({
    workerId: 'finisher-test',
    domain,
    types: null,
    limit: n,
    leaseMs: 60_000,
    leaseToken,
  });
  expect(claimed).toHaveLength(n);
  const settled = await backend.settle({
    workerId: 'finisher-test',
    settlements: claimed.map((c) => ({
      kind: 'complete' as const,
      id: c.id,
      leaseToken,
      attempt: c.attempts,
      domain,
      resultJson: null,
    })),
  });
  expect(settled.applied).toHaveLength(n);
}

/** A worker's batch finisher, alone: it checks only the batches a test says were touched. */
function idleMaintenance(ctx: SuiteContext, backend: Backend): BatchFinisher {
  return new BatchFinisher(backend, ctx.logger);
}

/**
 * Finishing batches where it goes wrong: several finishers at once, a finish whose
 * trigger was lost, a worker stopping or busy when a batch is touched. Each batch is
 * finished once and its completion command sent once.
 */
export function batchFinishTests(ctx: SuiteContext): void {
  describe('batch finish', () => {
    it('has finished a batch when the worker that completed its last command during its shutdown has stopped', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      let started!: () => void;
      const running = new Promise<void>((resolve) => (started = resolve));
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      bus.handle(domain, 'Last', async () => {
        started();
        await gate;
      });
      const batch = await bus.createBatch({
        commands: [{ domain, type: 'Last', data: {} }],
        onComplete: { domain, type: 'Done', data: {} },
      });
      const worker = await ctx.worker(bus, { types: ['Last'] });
      await running;
      // The shutdown lets the running handler finish, then writes its outcome.
      const stopping = worker.stop(10_000);
      release();
      await stopping;
      // No other worker runs: the one that settled the last command finished the batch.
      expect((await bus.get((await bus.list({ domain, type: 'Last' }))[0]!.id)).state).toBe(
        'completed',
      );
      expect((await bus.getBatch(batch.id)).status).toBe('completed');
      expect(await bus.list({ domain, type: 'Done' })).toHaveLength(1);
    });

    it('finishes at shutdown the batches its last settles touched', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      const batch = await bus.createBatch({
        commands: [{ domain, type: 'T', data: {} }],
        onComplete: { domain, type: 'Done', data: {} },
      });
      await completeWithoutFinishing(ctx.backend, domain, 1);
      const maintenance = idleMaintenance(ctx, ctx.backend);
      // A settle reports the batch touched, and the worker stops before its check is due.
      maintenance.batchesTouched([batch.id]);
      await maintenance.stop();
      expect((await bus.getBatch(batch.id)).status).toBe('completed');
      expect(await bus.list({ domain, type: 'Done' })).toHaveLength(1);
    });

    it('checks a batch touched while a check runs right after that check, without waiting for the sweep', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      const batches: BatchInfo[] = [];
      for (const type of ['First', 'Second']) {
        batches.push(await bus.createBatch({ commands: [{ domain, type, data: {} }] }));
        await completeWithoutFinishing(ctx.backend, domain, 1);
      }
      const [first, second] = batches as [BatchInfo, BatchInfo];
      let checking!: () => void;
      const checkRuns = new Promise<void>((resolve) => (checking = resolve));
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let checks = 0;
      // The real store, with the first check held until the second batch is touched.
      const store = {
        finishBatches: async (params: { batchIds?: string[] }) => {
          if (++checks === 1) {
            checking();
            await gate;
          }
          return ctx.backend.finishBatches(params);
        },
      } as unknown as Backend;
      const maintenance = idleMaintenance(ctx, store);
      try {
        maintenance.batchesTouched([first.id]);
        await checkRuns;
        maintenance.batchesTouched([second.id]);
        release();
        await eventually(async () =>
          expect((await bus.getBatch(second.id)).status).toBe('completed'),
        );
        expect((await bus.getBatch(first.id)).status).toBe('completed');
      } finally {
        release();
        await maintenance.stop();
      }
    });

    it('sends one completion command when several finish the same batch at once', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      const batch = await bus.createBatch({
        commands: [0, 1, 2].map((n) => ({ domain, type: 'T', data: { n } })),
        onComplete: { domain, type: 'Done', data: {} },
      });
      await completeWithoutFinishing(ctx.backend, domain, 3);
      // Workers that each settled a member, and sweeps, all finishing the batch together.
      const finishes = await Promise.all([
        ...Array.from({ length: 6 }, () => ctx.backend.finishBatches({ batchIds: [batch.id] })),
        ctx.backend.finishBatches({}),
        ctx.backend.finishBatches({}),
      ]);
      const ours = finishes.flat().filter((b) => b.id === batch.id);
      expect(ours).toHaveLength(1);
      const sent = await bus.list({ domain, type: 'Done' });
      expect(sent).toHaveLength(1);
      expect(ours[0]!.completionCommandId).toBe(sent[0]!.id);
      expect(await bus.getBatch(batch.id)).toMatchObject({
        status: 'completed',
        completionCommandId: sent[0]!.id,
      });
    });

    it('the sweep finishes a batch whose finish was lost, however many older batches are open', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      const waiting = ctx.domain('waiting');
      const open: string[] = [];
      for (let n = 0; n < 150; n++) {
        const older = await bus.createBatch({
          commands: [{ domain: waiting, type: 'Later', data: {} }],
        });
        open.push(older.id);
      }
      const batch = await bus.createBatch({
        commands: [{ domain, type: 'T', data: {} }],
        onComplete: { domain, type: 'Done', data: {} },
      });
      await completeWithoutFinishing(ctx.backend, domain, 1);
      // A sweep may look at only part of the open batches, but every one of them within
      // a few sweeps: here about 150 open (with the suite's others, under 250).
      let found: BatchInfo | undefined;
      for (let sweep = 0; sweep < 6 && !found; sweep++)
        found = (await ctx.backend.finishBatches({})).find((b) => b.id === batch.id);
      expect(found).toMatchObject({ id: batch.id, status: 'completed' });
      expect(await bus.list({ domain, type: 'Done' })).toHaveLength(1);
      for (const c of await bus.list({ domain: waiting, limit: 1000 })) await bus.cancel(c.id);
      expect((await bus.getBatch(open[0]!)).status).toBe('completed_with_failures');
    });
  });
}
