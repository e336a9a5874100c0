/**
 * The Redis delivery layer: one ticket stream and consumer group per domain. Tickets wake
 * workers, are acknowledged when their command is settled, are taken back from a dead
 * consumer after the lease, and are trimmed by retention; the ready queues, not the
 * tickets, decide what is claimed.
 */
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createRedisBackend } from '../src/backends/redis/index.js';
import { TICKET_GROUP } from '../src/backends/redis/keys.js';
import type { RedisBackend } from '../src/backends/redis/redis-backend.js';
import { ensureTicketGroup } from '../src/backends/redis/tickets.js';
import { CommandBus } from '../src/bus/bus.js';
import { waitUntil } from './fixtures/wait-until.js';
import { deletePrefix, redisAvailable, REDIS_URL, uniquePrefix } from './helpers/redis.js';

const available = await redisAvailable();
const logger = pino({ level: 'silent' });

/** Sends `count` Job commands and runs a worker until the store shows them all completed. */
async function sendAndDrain(bus: CommandBus, domain: string, count: number, concurrency: number) {
  await bus.sendMany(Array.from({ length: count }, (_, n) => ({ domain, type: 'Job', data: n })));
  const worker = await bus.worker({ concurrency, pollIntervalMs: 100, domains: [domain] }).start();
  try {
    await waitUntil(
      async () => (await bus.countByState(domain)).completed === count,
      30_000,
      `${count} commands are completed`,
    );
    await worker.idle();
  } finally {
    await worker.stop(2000);
  }
}

describe.runIf(available)('Redis ticket streams', () => {
  let backend: RedisBackend;
  let bus: CommandBus;
  const prefix = uniquePrefix('streams');
  beforeAll(async () => {
    backend = await createRedisBackend({ url: REDIS_URL, prefix });
    bus = new CommandBus({ backend, logger });
  });
  afterAll(async () => {
    await backend?.close();
    await deletePrefix(prefix);
  });

  const newDomain = () => `streams-${randomUUID().slice(0, 8)}`;
  const streamOf = (domain: string) => backend.keysOf(domain).stream;
  const pendingCount = async (domain: string) =>
    ((await backend.client.xpending(streamOf(domain), TICKET_GROUP)) as [number])[0];
  const entriesAdded = async (domain: string) => {
    const info = (await backend.client.xinfo('STREAM', streamOf(domain))) as unknown[];
    return info[info.indexOf('entries-added') + 1] as number;
  };
  const claim = (domain: string, workerId: string, limit: number, leaseMs = 5000) =>
    backend.claim({ workerId, domain, types: null, limit, leaseMs, leaseToken: randomUUID() });

  it('creates the consumer group once when many workers start at once (BUSYGROUP is success)', async () => {
    const stream = streamOf(newDomain());
    const clients = await Promise.all(
      Array.from({ length: 8 }, () =>
        createRedisBackend({ url: REDIS_URL, prefix }).then((b) => b.client),
      ),
    );
    try {
      await Promise.all(clients.map((client) => ensureTicketGroup(client, stream)));
      await ensureTicketGroup(backend.client, stream);
      const groups = (await backend.client.xinfo('GROUPS', stream)) as unknown[][];
      expect(groups.map((g) => g[1])).toEqual([TICKET_GROUP]);
    } finally {
      await Promise.all(clients.map((client) => client.quit()));
    }
  });

  it('wakes a worker blocked on the stream as soon as a command is sent', async () => {
    const domain = newDomain();
    let woke!: () => void;
    const woken = new Promise<void>((resolve) => (woke = resolve));
    const unsubscribe = await backend.subscribe((d) => d === domain && woke());
    try {
      expect(await claim(domain, 'waiting', 10)).toEqual([]); // arms the blocking read
      const started = Date.now();
      await bus.send(domain, 'Ping', {});
      await woken;
      expect(Date.now() - started).toBeLessThan(1000);
      const [claimed] = await claim(domain, 'waiting', 10);
      expect(claimed).toBeDefined();
      expect(await pendingCount(domain)).toBe(1); // its ticket, until the settle
      await backend.settle({
        workerId: 'waiting',
        settlements: [
          {
            id: claimed!.id,
            leaseToken: claimed!.leaseToken,
            attempt: claimed!.attempts,
            kind: 'complete',
            resultJson: null,
          },
        ],
      });
      expect(await pendingCount(domain)).toBe(0);
    } finally {
      await unsubscribe();
    }
  });

  it('claims in the round trip of the wake-up: a waiting worker of one domain makes no claim call of its own', async () => {
    const domain = newDomain();
    const handled: number[] = [];
    let onHandled = () => {};
    bus.handle(domain, 'Job', (data) => {
      handled.push(data as number);
      onHandled();
      return null;
    });
    const worker = await bus.worker({ pollIntervalMs: 60_000, domains: [domain] }).start();
    const client = backend.client as unknown as Record<string, (...args: unknown[]) => unknown>;
    try {
      await worker.idle(); // its first claim went the ordinary way and found nothing
      const claims = vi.spyOn(client, 'dbxClaim');
      for (let n = 0; n < 5; n++) {
        const done = new Promise<void>((resolve) => (onHandled = resolve));
        await bus.send(domain, 'Job', n);
        await done; // long before the 60 s poll: the blocked read woke
      }
      expect(handled).toEqual([0, 1, 2, 3, 4]);
      // every claim ran behind the blocking read, on the worker's own connection
      expect(claims).not.toHaveBeenCalled();
      claims.mockRestore();
    } finally {
      await worker.stop(2000);
    }
  });

  it('stops at once while its claim waits, and leaves nothing claimed', async () => {
    const domain = newDomain();
    bus.handle(domain, 'Job', () => null);
    const worker = await bus.worker({ pollIntervalMs: 60_000, domains: [domain] }).start();
    await worker.idle();
    await worker.stop(); // within the test's timeout: the blocked read is unblocked
    await bus.send(domain, 'Job', 1);
    // the stopped worker's read does not wait on: the command stays pending
    expect((await bus.countByState(domain)).pending).toBe(1);
    expect(await backend.client.zcard(backend.keysOf(domain).leases)).toBe(0);
  }, 10_000);

  it('acknowledges every ticket once the commands are settled', async () => {
    const domain = newDomain();
    const count = 500;
    let failedOnce = false;
    bus.handle(domain, 'Job', { backoff: { type: 'fixed', delay: 0 } }, () => {
      if (!failedOnce) {
        failedOnce = true;
        throw new Error('once');
      }
      return null;
    });
    await sendAndDrain(bus, domain, count, 16);
    expect(await pendingCount(domain)).toBe(0);
    // one ticket per send, and one for the retry
    expect(await entriesAdded(domain)).toBe(count + 1);
  });

  it("takes a dead consumer's tickets back after the lease, and its commands complete", async () => {
    const domain = newDomain();
    await bus.sendMany(Array.from({ length: 20 }, (_, n) => ({ domain, type: 'Job', data: n })));
    // The dead worker claimed 10 (tickets pinned on them) and its blocking read took the
    // other 10 tickets, then it died before claiming their commands.
    expect(await claim(domain, 'dead', 10, 300)).toHaveLength(10);
    await backend.client.xreadgroup(
      'GROUP',
      TICKET_GROUP,
      'dead',
      'COUNT',
      100,
      'STREAMS',
      streamOf(domain),
      '>',
    );
    expect(await pendingCount(domain)).toBe(20);

    const deadPending = async () =>
      (
        (await backend.client.xinfo('CONSUMERS', streamOf(domain), TICKET_GROUP)) as [
          string,
          string,
          string,
          number,
        ][]
      )
        .filter((c) => c[1] === 'dead')
        .map((c) => c[3]);
    // The leases expire 300 ms after the claim; the 10 tickets read after it reach 300 ms
    // of idleness a little later, so one recovery can requeue the commands before the
    // next takes those tickets back.
    await waitUntil(
      async () => {
        await backend.recoverExpiredLeases({ limit: 1000 });
        const pending = (await bus.countByState(domain)).pending;
        return pending === 20 && (await deadPending()).every((n) => n === 0);
      },
      10_000,
      "the 10 expired leases are recovered and the dead consumer's tickets taken back",
    );
    expect(await deadPending()).toEqual([0]);

    bus.handle(domain, 'Job', () => 'ok');
    const worker = await bus
      .worker({ concurrency: 8, pollIntervalMs: 100, domains: [domain] })
      .start();
    try {
      await waitUntil(
        async () => (await bus.countByState(domain)).completed === 20,
        10_000,
        'all 20 commands are completed',
      );
      await worker.idle();
    } finally {
      await worker.stop(2000);
    }
    expect(await pendingCount(domain)).toBe(0);
    const attempts = (await bus.list({ domain, limit: 100 })).map((c) => c.attempts).sort();
    expect(attempts).toEqual([...Array<number>(10).fill(1), ...Array<number>(10).fill(2)]);
  });

  it('claims ready commands whose tickets are lost, by priority', async () => {
    const domain = newDomain();
    const [low, high] = await bus.sendMany([
      { domain, type: 'T', data: 1, priority: 1 },
      { domain, type: 'T', data: 2, priority: 9 },
    ]);
    await backend.client.del(streamOf(domain)); // stream and group gone
    expect((await claim(domain, 'w', 10)).map((c) => c.id)).toEqual([high!.id, low!.id]);
    expect(await pendingCount(domain)).toBe(0); // the group is back, with no ticket to hold
  });

  it('trims acknowledged tickets when pruning, keeping the stream short', async () => {
    const domain = newDomain();
    const count = 2000;
    bus.handle(domain, 'Job', () => null);
    await sendAndDrain(bus, domain, count, 32);
    expect(await entriesAdded(domain)).toBe(count);
    await backend.prune({ olderThanMs: 60_000, limit: 5000 });
    // trimming is by whole stream nodes (100 entries each by default)
    expect(await backend.client.xlen(streamOf(domain))).toBeLessThanOrEqual(100);
  });
});
