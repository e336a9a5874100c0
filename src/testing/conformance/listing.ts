import { describe, expect, it } from 'vitest';
import type { Command } from '../../core/command.js';
import type { CommandBus } from '../../bus/bus.js';
import type { ListParams } from '../../bus/params.js';
import type { SuiteContext } from './context.js';

const ids = (commands: Command[]) => commands.map((c) => c.id);

/** Every page of a listing, `limit` at a time, each after the last id of the one before. */
async function pages(bus: CommandBus, params: ListParams, limit: number): Promise<Command[][]> {
  const found: Command[][] = [];
  let afterId: string | undefined;
  for (;;) {
    const page = await bus.list({ ...params, limit, afterId });
    if (page.length > 0) found.push(page);
    if (page.length < limit) return found;
    afterId = page.at(-1)!.id;
  }
}

/** The operator's and the console's listings: every filter, both orders, keyset pages. */
export function listingTests(ctx: SuiteContext): void {
  describe('listing commands', () => {
    /** Commands of one domain, one per interesting payload, sent one by one (distinct times). */
    const sendAll = async (bus: CommandBus, domain: string) => {
      const payloads = [
        { note: 'Half price: 50% off' },
        { note: 'half price 50 off' },
        { note: 'snake_case_name' },
        { note: 'snakeXcaseYname' },
        { note: 'MiXeD CaSe Needle' },
        { note: 'plain' },
        { note: 'plain again' },
      ];
      const sent: Command[] = [];
      for (const data of payloads) sent.push(await bus.send(domain, 'Note', data));
      return sent;
    };

    it('lists in id order, oldest or newest first, in keyset pages without gaps or repeats', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      const sent = await sendAll(bus, domain);
      const oldestFirst = ids(sent).toSorted();
      expect(ids(await bus.list({ domain }))).toEqual(oldestFirst);
      expect(ids(await bus.list({ domain, order: 'asc' }))).toEqual(oldestFirst);
      expect(ids(await bus.list({ domain, order: 'desc' }))).toEqual(oldestFirst.toReversed());
      for (const order of ['asc', 'desc'] as const) {
        const walked = await pages(bus, { domain, order }, 3);
        expect(walked.map((p) => p.length)).toEqual([3, 3, 1]);
        const all = walked.flat().map((c) => c.id);
        expect(all).toEqual(order === 'asc' ? oldestFirst : oldestFirst.toReversed());
      }
      // afterId is exclusive in both orders
      const middle = oldestFirst[3]!;
      expect(ids(await bus.list({ domain, afterId: middle }))).toEqual(oldestFirst.slice(4));
      expect(ids(await bus.list({ domain, afterId: middle, order: 'desc' }))).toEqual(
        oldestFirst.slice(0, 3).toReversed(),
      );
    });

    it('finds payload text as a plain substring, ignoring case: % and _ are themselves', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      const [half, halfPlain, snake, , mixed] = await sendAll(bus, domain);
      const found = async (text: string) => ids(await bus.list({ domain, text })).toSorted();
      expect(await found('50%')).toEqual([half!.id]);
      expect(await found('% off')).toEqual([half!.id]);
      expect(await found('e_c')).toEqual([snake!.id]);
      expect(await found('_')).toEqual([snake!.id]);
      expect(await found('needle')).toEqual([mixed!.id]);
      expect(await found('mixed case NEEDLE')).toEqual([mixed!.id]);
      expect(await found('HALF PRICE')).toEqual([half!.id, halfPlain!.id].toSorted());
      // the JSON text, names and quotes included
      expect(await found('"note":"plain"')).toHaveLength(1);
      expect(await found('no such text')).toEqual([]);
      // with the other filters and the order
      expect(ids(await bus.list({ domain, text: 'plain', order: 'desc', limit: 1 }))).toEqual([
        (await bus.list({ domain, text: 'plain again' }))[0]!.id,
      ]);
    });

    it('lists by creation time: at or after createdAfter, before createdBefore', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      const sent = await sendAll(bus, domain);
      const stored = await bus.list({ domain });
      const third = stored[2]!;
      const at = third.createdAt.getTime();
      const after = await bus.list({ domain, createdAfter: third.createdAt });
      expect(after.map((c) => c.id)).toContain(third.id);
      expect(after.every((c) => c.createdAt.getTime() >= at)).toBe(true);
      const before = await bus.list({ domain, createdBefore: third.createdAt });
      expect(before.map((c) => c.id)).not.toContain(third.id);
      expect(before.every((c) => c.createdAt.getTime() < at)).toBe(true);
      expect(before.length + after.length).toBe(sent.length);
      const justThat = await bus.list({
        domain,
        createdAfter: third.createdAt,
        createdBefore: new Date(at + 1),
      });
      expect(ids(justThat)).toContain(third.id);
      expect(justThat.every((c) => c.createdAt.getTime() === at)).toBe(true);
      const future = new Date(Date.now() + 3_600_000);
      expect(await bus.list({ domain, createdAfter: future })).toEqual([]);
      expect(await bus.list({ domain, createdBefore: new Date(0) })).toEqual([]);
    });

    it('lists by correlation, causation and batch, alone and with the other filters', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      const other = ctx.domain();
      const root = await bus.send(domain, 'Order', { n: 0 });
      const child = await bus.send(
        domain,
        'Ship',
        { n: 1 },
        {
          correlationId: root.correlationId!,
          causationId: root.id,
        },
      );
      const grandchild = await bus.send(
        other,
        'Mail',
        { n: 2 },
        {
          correlationId: root.correlationId!,
          causationId: child.id,
        },
      );
      const named = await bus.send(domain, 'Order', { n: 3 }, { correlationId: 'order-42' });
      await bus.send(
        domain,
        'Order',
        { n: 4 },
        { correlationId: 'order-42', causationId: root.id },
      );
      const batch = await bus.createBatch({
        commands: [
          { domain, type: 'Bill', data: { n: 5 } },
          { domain: other, type: 'Bill', data: { n: 6 } },
          { domain, type: 'Other', data: { n: 7 } },
        ],
      });
      await bus.createBatch({ commands: [{ domain, type: 'Bill', data: { n: 8 } }] });

      const listed = async (params: ListParams) =>
        (await bus.list(params)).map((c) => (c.data as { n: number }).n);
      expect(await listed({ correlationId: root.correlationId! })).toEqual([0, 1, 2]);
      expect(await listed({ correlationId: root.correlationId!, order: 'desc' })).toEqual([
        2, 1, 0,
      ]);
      expect(await listed({ correlationId: root.correlationId!, domain })).toEqual([0, 1]);
      expect(await listed({ correlationId: named.correlationId! })).toEqual([3, 4]);
      expect(await listed({ correlationId: 'order-42', type: 'Ship' })).toEqual([]);
      expect(await listed({ causationId: root.id })).toEqual([1, 4]);
      expect(await listed({ causationId: root.id, correlationId: 'order-42' })).toEqual([4]);
      expect(await listed({ causationId: child.id })).toEqual([2]);
      expect(await listed({ causationId: grandchild.id })).toEqual([]);
      expect(await listed({ causationId: 'not-an-id' })).toEqual([]);
      expect(await listed({ batchId: batch.id })).toEqual([5, 6, 7]);
      expect(await listed({ batchId: batch.id, order: 'desc' })).toEqual([7, 6, 5]);
      expect(await listed({ batchId: batch.id, domain })).toEqual([5, 7]);
      expect(await listed({ batchId: batch.id, type: 'Bill', state: 'pending' })).toEqual([5, 6]);
      expect(await listed({ batchId: batch.id, state: 'completed' })).toEqual([]);
      expect(await listed({ batchId: root.id })).toEqual([]);
      const [first, second] = await bus.list({ batchId: batch.id, limit: 2 });
      expect(await listed({ batchId: batch.id, afterId: second!.id })).toEqual([7]);
      expect(await listed({ batchId: batch.id, afterId: second!.id, order: 'desc' })).toEqual([
        (first!.data as { n: number }).n,
      ]);
    });

    it('counts a filter beyond state, domain and type by walking the listing', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      const root = await bus.send(domain, 'Order', { n: 0 });
      await bus.sendMany(
        Array.from({ length: 5 }, (_, n) => ({
          domain,
          type: 'Step',
          data: { n },
          correlationId: root.correlationId!,
        })),
      );
      await bus.send(domain, 'Step', { n: 9 });
      expect(await bus.count({ correlationId: root.correlationId! })).toBe(6);
      expect(await bus.count({ correlationId: root.correlationId!, type: 'Step' })).toBe(5);
      expect(await bus.count({ domain, text: '"n":9' })).toBe(1);
    });

    it('refuses an afterId that is no command id, naming it', async () => {
      const bus = ctx.bus();
      await expect(bus.list({ afterId: 'page-2' })).rejects.toMatchObject({
        name: 'ValidationError',
        path: 'afterId',
      });
    });
  });
}

/** Batches newest first, in keyset pages (the console's batch list). */
export function batchListingTests(ctx: SuiteContext): void {
  describe('listing batches', () => {
    it('lists batches newest first, as getBatch reads them, in keyset pages', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      const made = [];
      for (const name of ['first', 'second', 'third'])
        made.push(
          await bus.createBatch({
            name,
            commands: [
              { domain, type: 'Bill', data: { name } },
              { domain: ctx.domain(), type: 'Bill', data: { name } },
            ],
          }),
        );
      await bus.cancel((await bus.list({ batchId: made[1]!.id, domain }))[0]!.id);
      const seen: string[] = [];
      let afterId: string | undefined;
      for (;;) {
        const page = await bus.listBatches({ limit: 2, afterId });
        expect(page.length).toBeLessThanOrEqual(2);
        seen.push(...page.map((b) => b.id));
        if (page.length < 2) break;
        afterId = page.at(-1)!.id;
      }
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen).toEqual(seen.toSorted().toReversed());
      const mine = made.map((b) => b.id);
      expect(seen.filter((id) => mine.includes(id))).toEqual(mine.toReversed());
      // the newest: ours, each as getBatch has it (live counts)
      const newest = await bus.listBatches({ limit: 3 });
      expect(newest.map((b) => b.name)).toEqual(['third', 'second', 'first']);
      for (const listed of newest) expect(listed).toEqual(await bus.getBatch(listed.id));
      expect(newest[1]!.counts).toMatchObject({ total: 2, pending: 1, cancelled: 1 });
      expect(await bus.listBatches({ limit: 5, afterId: made[0]!.id })).not.toContainEqual(
        expect.objectContaining({ id: made[0]!.id }),
      );
    });
  });
}
