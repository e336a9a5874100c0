/**
 * Bulk actions and troubleshooting groups on every store: an action over a filter walks
 * it in chunks, audits each command with the actor, counts a command whose state changed
 * meanwhile as failed and stops between chunks when cancelled; a selection is acted on id
 * by id; real troubleshooting commands group by fingerprint, largest first, and a group
 * is retried in bulk.
 */
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../src/backends/backend.js';
import { CommandBus } from '../src/bus/bus.js';
import {
  applyToFilter,
  applyToIds,
  BULK_CHUNK,
  MAX_SELECTION,
} from '../src/console/bulk-actions.js';
import { applyToGroup, countGroup, groupTroubleshooting } from '../src/console/fingerprint.js';
import { PermanentError, ValidationError } from '../src/core/errors.js';
import { waitUntil } from './fixtures/wait-until.js';
import { everyStore } from './helpers/stores.js';

/** A job's control for a direct call: its progress reports kept, `abort` to cancel it. */
function jobControl(onProgress?: (done: number, failed: number | undefined) => void) {
  const controller = new AbortController();
  const reports: [number, number | undefined][] = [];
  return {
    signal: controller.signal,
    progress(done: number, failed?: number) {
      reports.push([done, failed]);
      onProgress?.(done, failed);
    },
    reports,
    abort: () => controller.abort(),
  };
}

const stores = await everyStore('bulk');

for (const store of stores) {
  describe.runIf(store.available)(`bulk actions: ${store.name}`, () => {
    let backend: Backend;
    let bus: CommandBus;
    beforeAll(async () => {
      backend = await store.open();
      bus = new CommandBus({ backend, logger: pino({ level: 'silent' }) });
    });
    afterAll(async () => {
      await store.destroy(backend);
      await backend.close();
    });

    const domain = () => `bulk-${randomUUID().slice(0, 8)}`;
    const sendPending = async (d: string, count: number) => {
      const sent = [];
      for (let from = 0; from < count; from += 500) {
        const items = Array.from({ length: Math.min(500, count - from) }, (_, i) => ({
          domain: d,
          type: 'Job',
          data: { n: from + i },
        }));
        sent.push(...(await bus.sendMany(items)));
      }
      return sent;
    };

    it('cancels 1,200 commands in chunks, audited with the actor; one changed meanwhile counts failed', async () => {
      const d = domain();
      const sent = await sendPending(d, 1200);
      // after the first chunk, someone else cancels ten commands of the second; the walk's
      // next page is read once they are cancelled (a bus whose list waits for them)
      const raced = sent.slice(600, 610).map((c) => c.id);
      let racing: Promise<unknown> = Promise.resolve();
      const job = jobControl((done) => {
        if (done === BULK_CHUNK)
          racing = Promise.all(raced.map((id) => bus.cancel(id, { actor: 'racer' })));
      });
      const racedBus = Object.create(bus, {
        list: { value: async (params: object) => (await racing, bus.list(params)) },
      }) as CommandBus;
      const result = await applyToFilter(
        racedBus,
        { action: 'cancel', filter: { domain: d }, reason: 'clean-up', actor: 'alice' },
        job,
      );
      expect(result).toEqual({ applied: 1190, failed: 10 });
      expect(job.reports).toEqual([
        [500, 0],
        [1000, 10],
        [1200, 10],
      ]);
      expect(await bus.count({ domain: d, state: 'cancelled' })).toBe(1200);
      const audit = await bus.audit(sent[0]!.id);
      expect(audit.at(-1)).toMatchObject({
        fromState: 'pending',
        toState: 'cancelled',
        actor: 'alice',
        reason: 'clean-up',
      });
      expect((await bus.audit(raced[0]!)).at(-1)?.actor).toBe('racer');
    });

    it('stops between chunks when its job is cancelled', async () => {
      const d = domain();
      await sendPending(d, 1200);
      const job = jobControl(() => job.abort());
      const result = await applyToFilter(
        bus,
        { action: 'cancel', filter: { domain: d }, actor: 'alice' },
        job,
      );
      expect(result).toEqual({ applied: 500, failed: 0 });
      expect(await bus.count({ domain: d, state: 'pending' })).toBe(700);
    });

    it('counts commands in a state the action does not apply to as failed, changing nothing', async () => {
      const d = domain();
      await sendPending(d, 3);
      const job = jobControl();
      expect(
        await applyToFilter(bus, { action: 'retry', filter: { domain: d }, actor: 'alice' }, job),
      ).toEqual({ applied: 0, failed: 3 });
      expect(job.reports).toEqual([[3, 3]]);
      expect(await bus.count({ domain: d, state: 'pending' })).toBe(3);
    });

    it('refuses a bad action before touching anything', async () => {
      const d = domain();
      await sendPending(d, 2);
      const bad = { action: 'delete', filter: { domain: d }, actor: 'alice' } as never;
      await expect(applyToFilter(bus, bad, jobControl())).rejects.toThrow(ValidationError);
      await expect(
        applyToFilter(
          bus,
          { action: 'cancel', filter: { domain: d }, actor: 'alice', reason: '' },
          jobControl(),
        ),
      ).rejects.toMatchObject({ path: 'reason' });
      expect(await bus.count({ domain: d, state: 'pending' })).toBe(2);
    });

    it('acts on a selection id by id, telling why each refused one was refused', async () => {
      const d = domain();
      const [a, b, c] = await sendPending(d, 3);
      await bus.cancel(c!.id);
      const unknown = randomUUID();
      const result = await applyToIds(bus, {
        action: 'cancel',
        ids: [a!.id, unknown, b!.id, c!.id, a!.id],
        actor: 'bob',
        reason: 'selected',
      });
      expect(result.applied).toEqual([a!.id, b!.id]);
      expect(result.refused).toEqual([
        {
          id: unknown,
          status: 404,
          title: 'CommandNotFoundError',
          detail: expect.stringContaining(unknown) as unknown,
        },
        {
          id: c!.id,
          status: 409,
          title: 'InvalidStateError',
          detail: expect.stringContaining('it is cancelled') as unknown,
        },
      ]);
      expect((await bus.audit(b!.id)).at(-1)).toMatchObject({ actor: 'bob', reason: 'selected' });
      const tooMany = Array.from({ length: MAX_SELECTION + 1 }, () => randomUUID());
      await expect(
        applyToIds(bus, { action: 'cancel', ids: tooMany, actor: 'bob' }),
      ).rejects.toThrow(/^ids names 1001 commands; a selection takes at most 1000/);
    });

    describe('troubleshooting groups', () => {
      const d = `tsq-${randomUUID().slice(0, 8)}`;
      beforeAll(async () => {
        const failing = new CommandBus({ backend, logger: pino({ level: 'silent' }) });
        const fail = (data: { kind: string; n: number }) => {
          if (data.kind === 'order')
            throw new PermanentError(`order ${data.n} failed for ${randomUUID()}`, {
              code: 'ORDER_FAILED',
            });
          if (data.kind === 'card')
            throw new PermanentError(
              `card ending ${1000 + data.n} declined for user-${data.n}@example.com`,
              { code: 'CARD_DECLINED' },
            );
          throw new PermanentError(`no stock for item ${randomUUID().replace(/-/g, '')}`, {
            code: 'OUT_OF_STOCK',
          });
        };
        failing.handle(d, 'Order', { maxAttempts: 1 }, fail);
        failing.handle(d, 'Invoice', { maxAttempts: 1 }, fail);
        const kinds = [
          'card',
          'order',
          'stock',
          'order',
          'card',
          'order',
          'order',
          'card',
          'order',
        ];
        await failing.sendMany(
          kinds.map((kind, n) => ({
            domain: d,
            type: n === 1 ? 'Invoice' : 'Order',
            data: { kind, n },
          })),
        );
        const worker = failing.worker({ pollIntervalMs: 50 });
        await worker.start();
        await waitUntil(
          async () => (await bus.count({ domain: d, state: 'troubleshooting' })) === 9,
          30_000,
          'the 9 commands are in troubleshooting',
        );
        await worker.stop();
      });

      it('groups them by fingerprint, largest group first, ids and numbers masked', async () => {
        const found = await groupTroubleshooting(bus, { domain: d });
        expect(found).toMatchObject({ scanned: 9, truncated: false });
        expect(found.groups.map((g) => [g.code, g.message, g.count, g.domains, g.types])).toEqual([
          ['ORDER_FAILED', 'order <n> failed for <uuid>', 5, [d], ['Invoice', 'Order']],
          ['CARD_DECLINED', 'card ending <n> declined for <email>', 3, [d], ['Order']],
          ['OUT_OF_STOCK', 'no stock for item <hex>', 1, [d], ['Order']],
        ]);
        const orders = found.groups[0]!;
        expect(orders.fingerprint).toMatch(/^[0-9a-f]{12}$/);
        expect(orders.oldestAt.getTime()).toBeLessThanOrEqual(orders.newestAt.getTime());
        const sample = await bus.get(orders.sampleId);
        expect(sample).toMatchObject({
          state: 'troubleshooting',
          lastError: { code: 'ORDER_FAILED' },
        });
        expect(await countGroup(bus, { fingerprint: orders.fingerprint, domain: d })).toBe(5);
      });

      it("reads the queue's errors as the listing has them, a page at a time, without payloads", async () => {
        // the SQL stores have a lean read of their own; Redis falls back to its listing
        expect(typeof backend.admin.listTroubleshootingErrors).toBe(
          store.name === 'Redis' ? 'undefined' : 'function',
        );
        const listed = await bus.list({ state: 'troubleshooting', domain: d, limit: 100 });
        const lean = [];
        let afterId: string | undefined;
        for (;;) {
          const page = await bus.troubleshootingErrors({ domain: d, afterId, limit: 4 });
          lean.push(...page);
          if (page.length < 4) break;
          afterId = page.at(-1)!.id;
        }
        expect(lean).toEqual(
          listed.map(({ id, domain, type, updatedAt, lastError }) => ({
            id,
            domain,
            type,
            updatedAt,
            lastError,
          })),
        );
        const invoices = await bus.troubleshootingErrors({ domain: d, type: 'Invoice', limit: 9 });
        expect(invoices.map((c) => c.type)).toEqual(['Invoice']);
        expect(lean[0]).not.toHaveProperty('data');
      });

      it('reads at most scanLimit commands and says it stopped short', async () => {
        const found = await groupTroubleshooting(bus, { domain: d, scanLimit: 4 });
        expect(found).toMatchObject({ scanned: 4, truncated: true });
        expect(found.groups.reduce((sum, g) => sum + g.count, 0)).toBe(4);
        const exact = await groupTroubleshooting(bus, { domain: d, scanLimit: 9 });
        expect(exact).toMatchObject({ scanned: 9, truncated: false });
      });

      it('retries one group in bulk, audited with the actor; the other groups stay', async () => {
        const [orders] = (await groupTroubleshooting(bus, { domain: d })).groups;
        const job = jobControl();
        const result = await applyToGroup(
          bus,
          {
            fingerprint: orders!.fingerprint,
            domain: d,
            action: 'retry',
            reason: 'fixed the order service',
            actor: 'carol',
          },
          job,
        );
        expect(result).toEqual({ applied: 5, failed: 0 });
        expect(job.reports.at(-1)).toEqual([5, 0]);
        const left = await groupTroubleshooting(bus, { domain: d });
        expect(left.groups.map((g) => [g.code, g.count])).toEqual([
          ['CARD_DECLINED', 3],
          ['OUT_OF_STOCK', 1],
        ]);
        const retried = await bus.list({ domain: d, state: 'pending' });
        expect(retried).toHaveLength(5);
        expect((await bus.audit(retried[0]!.id)).at(-1)).toMatchObject({
          fromState: 'troubleshooting',
          toState: 'pending',
          actor: 'carol',
          reason: 'fixed the order service',
        });
      });
    });
  });
}
