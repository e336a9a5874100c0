/**
 * The outbox on the SQL stores: `bus.publish` in the application's transaction (an event
 * exists only if it commits), and the relay's side of the store (roles/outbox.ts): one
 * lease holder at a time, oldest first by seq, deletes refused after the lease was lost,
 * failed deliveries counted, stats.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { OutboxStore } from '../src/backends/backend.js';
import { sqlAppStores, type AppStore } from './helpers/sql-app-stores.js';

const kinds = await sqlAppStores();

describe.each(kinds)('outbox: $name', ({ available, open, shutdown }) => {
  let store: AppStore;
  let outbox: OutboxStore;
  const claim = (relayId: string, limit = 100, leaseMs = 60_000) =>
    outbox.claimEvents({ relayId, leaseMs, limit });

  beforeEach(async () => {
    if (!available) return;
    store = await open();
    // the accessor the relay uses
    outbox = store.bus.backend.outbox!;
  });
  afterEach(async () => {
    if (available) await store.close();
  });
  afterAll(shutdown);

  it.runIf(available)(
    'an event published in a committed transaction reaches the relay, whole',
    async () => {
      let published: { id: string; topic: string; key: string } | undefined;
      await store.inTransaction(async (tx) => {
        published = await store.bus.publish(
          'orders.events',
          'order-7',
          { total: 12.5, lines: ['a', 'b'], note: 'é\u{1F600}' },
          {
            tx,
            type: 'OrderPlaced',
            headers: { 'X-Tenant': 'acme' },
            correlationId: 'req-1',
            causationId: 'cmd-9',
          },
        );
        // not visible outside the transaction until it commits
        if (!store.oneConnection) expect((await claim('relay-a'))!.events).toEqual([]);
      }, 'commit');
      expect(published!.topic).toBe('orders.events');
      expect(published!.key).toBe('order-7');
      const { events } = (await claim('relay-a'))!;
      expect(events).toHaveLength(1);
      const [event] = events;
      expect(event).toMatchObject({
        id: published!.id,
        topic: 'orders.events',
        key: 'order-7',
        type: 'OrderPlaced',
        headers: { 'x-tenant': 'acme' },
        correlationId: 'req-1',
        causationId: 'cmd-9',
        attempts: 0,
      });
      expect(JSON.parse(event!.dataJson)).toEqual({
        total: 12.5,
        lines: ['a', 'b'],
        note: 'é\u{1F600}',
      });
      expect(event!.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/); // a UUIDv7
      expect(event!.createdAt).toBeInstanceOf(Date);
      expect(Math.abs(event!.createdAt.getTime() - Date.now())).toBeLessThan(60_000);
      expect(event!.seq).toMatch(/^\d+$/);
    },
  );

  it.runIf(available)(
    'an event published in a rolled-back transaction is never there',
    async () => {
      await store.inTransaction(async (tx) => {
        await store.bus.publish('orders', 'k1', { n: 1 }, { tx });
        await store.bus.publishMany(
          [
            { topic: 'orders', key: 'k2', data: 2 },
            { topic: 'orders', key: 'k3', data: 3 },
          ],
          { tx },
        );
      }, 'rollback');
      expect((await claim('relay-a'))!.events).toEqual([]);
      expect(await outbox.stats()).toEqual({ pending: 0, oldestCreatedAt: null });
    },
  );

  it.runIf(available)(
    'delivers oldest first by seq; type defaults to the topic; a repeated id is stored once',
    async () => {
      const first = await store.bus.publish('a', 'k1', 1);
      await store.inTransaction(async (tx) => {
        await store.bus.publishMany(
          [
            { topic: 'b', key: 'k2', data: 2 },
            { topic: 'a', key: 'k1', data: 3 },
            { topic: 'b', key: 'k2', data: 4, id: first.id.replace(/^.{8}/, '00000000') },
          ],
          { tx },
        );
      }, 'commit');
      await store.bus.publish('a', 'k1', 5, { id: first.id }); // a retried publish
      const { events } = (await claim('relay-a'))!;
      expect(events.map((e) => JSON.parse(e.dataJson) as unknown)).toEqual([1, 2, 3, 4]);
      expect(events.map((e) => e.type)).toEqual(['a', 'b', 'a', 'b']);
      const seqs = events.map((e) => BigInt(e.seq));
      expect([...seqs].sort((x, y) => (x < y ? -1 : 1))).toEqual(seqs);
      expect(new Set(seqs).size).toBe(4);
      expect((await claim('relay-a', 2))!.events.map((e) => e.seq)).toEqual(
        events.slice(0, 2).map((e) => e.seq),
      );
    },
  );

  it.runIf(available)(
    'orders by seq as a number past 9 (seq 10 after seq 9, not after 1)',
    async () => {
      await store.bus.publishMany(
        Array.from({ length: 12 }, (_, n) => ({ topic: 'a', key: 'k', data: n })),
      );
      const { events } = (await claim('relay-a'))!;
      expect(events.map((e) => JSON.parse(e.dataJson) as unknown)).toEqual(
        Array.from({ length: 12 }, (_, n) => n),
      );
    },
  );

  it.runIf(available)(
    'one relay holds the lease: others get null until it is released or expires',
    async () => {
      await store.bus.publish('t', 'k', 1);
      expect(await claim('relay-a')).not.toBeNull();
      expect(await claim('relay-b')).toBeNull();
      expect(await claim('relay-a')).not.toBeNull(); // the holder extends its lease
      await outbox.releaseLease('relay-b'); // not the holder: changes nothing
      expect(await claim('relay-b')).toBeNull();
      await outbox.releaseLease('relay-a');
      const taken = await claim('relay-b');
      expect(taken!.events).toHaveLength(1);
      // relay-a lost the lease: its deletes are refused and change nothing
      expect(
        await outbox.markDelivered({ relayId: 'relay-a', seqs: [taken!.events[0]!.seq] }),
      ).toBe(false);
      await outbox.markFailed({ relayId: 'relay-a', seqs: [taken!.events[0]!.seq] });
      expect((await claim('relay-b'))!.events[0]!.attempts).toBe(0);
      expect(await claim('relay-a')).toBeNull();
    },
  );

  it.runIf(available)('an expired lease is taken over, and the old holder is refused', async () => {
    await store.bus.publish('t', 'k', 1);
    const a = await claim('relay-a', 10, 0); // a lease of 0 ms: expired at once
    expect(a!.events).toHaveLength(1);
    const b = await claim('relay-b', 10, 60_000);
    expect(b!.events.map((e) => e.id)).toEqual(a!.events.map((e) => e.id));
    expect(await outbox.markDelivered({ relayId: 'relay-a', seqs: [a!.events[0]!.seq] })).toBe(
      false,
    );
    expect((await outbox.stats()).pending).toBe(1);
    expect(await outbox.markDelivered({ relayId: 'relay-b', seqs: [b!.events[0]!.seq] })).toBe(
      true,
    );
    expect((await outbox.stats()).pending).toBe(0);
  });

  it.runIf(available)(
    'markDelivered deletes the events named, and tolerates ones already gone',
    async () => {
      await store.bus.publishMany([1, 2, 3].map((n) => ({ topic: 't', key: `k${n}`, data: n })));
      const { events } = (await claim('relay-a'))!;
      const [one, two, three] = events.map((e) => e.seq);
      expect(await outbox.markDelivered({ relayId: 'relay-a', seqs: [one!, three!] })).toBe(true);
      // delivered twice (a relay retrying its delete): nothing left to delete, no error
      expect(await outbox.markDelivered({ relayId: 'relay-a', seqs: [one!, three!] })).toBe(true);
      expect(await outbox.markDelivered({ relayId: 'relay-a', seqs: [] })).toBe(true);
      expect((await claim('relay-a'))!.events.map((e) => e.seq)).toEqual([two]);
    },
  );

  it.runIf(available)('markFailed counts attempts of the events named only', async () => {
    await store.bus.publishMany([1, 2].map((n) => ({ topic: 't', key: 'k', data: n })));
    const [first, second] = (await claim('relay-a'))!.events.map((e) => e.seq);
    await outbox.markFailed({ relayId: 'relay-a', seqs: [first!] });
    await outbox.markFailed({ relayId: 'relay-a', seqs: [first!] });
    await outbox.markFailed({ relayId: 'relay-a', seqs: [] });
    const again = (await claim('relay-a'))!.events;
    expect(again.map((e) => [e.seq, e.attempts])).toEqual([
      [first, 2],
      [second, 0],
    ]);
  });

  it.runIf(available)(
    'a transactional handler publishes with ctx.tx: only its successful attempt leaves an event',
    async () => {
      const { bus } = store;
      let attempts = 0;
      bus.handle(
        'orders',
        'Place',
        { transactional: true, maxAttempts: 3, backoff: { type: 'fixed', delay: 0 } },
        async (data: { orderId: string }, ctx) => {
          attempts++;
          await bus.publish('orders.events', data.orderId, { attempt: attempts }, { tx: ctx.tx });
          if (attempts === 1) throw new Error('the first attempt fails after publishing');
        },
      );
      const command = await bus.send('orders', 'Place', { orderId: 'o-1' });
      const worker = bus.worker({ pollIntervalMs: 50 });
      const completed = new Promise<void>((resolve) =>
        worker.events.on('completed', (e) => {
          if (e.commandId === command.id) resolve();
        }),
      );
      await worker.start();
      try {
        await completed;
      } finally {
        await worker.stop();
      }
      expect(attempts).toBe(2);
      const { events } = (await claim('relay-a'))!;
      expect(events.map((e) => [e.key, JSON.parse(e.dataJson) as unknown])).toEqual([
        ['o-1', { attempt: 2 }],
      ]);
    },
  );

  it.runIf(available)('stats count the waiting events and date the oldest', async () => {
    expect(await outbox.stats()).toEqual({ pending: 0, oldestCreatedAt: null });
    const before = Date.now();
    await store.bus.publishMany([1, 2, 3].map((n) => ({ topic: 't', key: 'k', data: n })));
    const stats = await outbox.stats();
    expect(stats.pending).toBe(3);
    expect(stats.oldestCreatedAt!.getTime()).toBeGreaterThanOrEqual(before - 5);
    expect(stats.oldestCreatedAt!.getTime()).toBeLessThanOrEqual(Date.now());
  });
});
