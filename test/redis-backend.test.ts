/** What the conformance suite does not cover on Redis: configuration, start-up, and Redis-only paths. */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisBackend } from '../src/backends/redis/index.js';
import type { RedisBackend } from '../src/backends/redis/redis-backend.js';
import { CommandBus } from '../src/bus/bus.js';
import { ConfigurationError, StoreError } from '../src/core/errors.js';
import { createDispatchbox } from '../src/create.js';
import { deletePrefix, redisAvailable, REDIS_URL, uniquePrefix } from './helpers/redis.js';

const available = await redisAvailable();
const logger = pino({ level: 'silent' });

describe('Redis configuration', () => {
  it.each([
    ['not a url', /not a valid URL/],
    ['http://127.0.0.1:6379', /scheme http:/],
    ['redis://127.0.0.1:6379/zero', /database "zero"/],
  ])('refuses %s with a ConfigurationError', async (url, message) => {
    const error = await createRedisBackend({ url }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toMatch(message);
  });

  it('refuses a key prefix with a hash tag in it', async () => {
    await expect(createRedisBackend({ url: REDIS_URL, prefix: 'a{b}' })).rejects.toThrow(
      /key prefix/,
    );
  });

  it('gives up on an unreachable server with a StoreError naming it', async () => {
    const port = await closedPort();
    const started = Date.now();
    const error = await createRedisBackend({
      url: `redis://127.0.0.1:${port}/3`,
      connectTimeoutMs: 600,
    }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StoreError);
    expect((error as Error).message).toMatch(
      new RegExp(`could not reach Redis at redis://127.0.0.1:${port}/3 after \\d+ attempts`),
    );
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe.runIf(available)('Redis backend', () => {
  let backend: RedisBackend;
  let bus: CommandBus;
  const prefix = uniquePrefix('backend');
  beforeAll(async () => {
    backend = await createRedisBackend({ url: REDIS_URL, prefix });
    bus = new CommandBus({ backend, logger });
  });
  afterAll(async () => {
    await backend?.close();
    await deletePrefix(prefix);
  });

  it('is chosen by createDispatchbox for a redis:// URL, with the schema as key prefix', async () => {
    const other = uniquePrefix('create');
    const created = await createDispatchbox({ databaseUrl: REDIS_URL, schema: other, logger });
    try {
      expect(created.backend.kind).toBe('redis');
      const sent = await created.send('create-test', 'T', { ok: true });
      expect((await created.get(sent.id)).data).toEqual({ ok: true });
    } finally {
      await created.backend.close();
      await deletePrefix(other);
    }
  });

  it('claims across types by priority then age, and by type when asked', async () => {
    const domain = `types-${randomUUID().slice(0, 8)}`;
    const [a1, b1, a2, b9] = await bus.sendMany([
      { domain, type: 'A', data: 1, priority: 5 },
      { domain, type: 'B', data: 2, priority: 3 },
      { domain, type: 'A', data: 3, priority: 1 },
      { domain, type: 'B', data: 4, priority: 9 },
    ]);
    const claim = (types: string[] | null, limit: number) =>
      backend.claim({
        workerId: 'w',
        domain,
        types,
        limit,
        leaseMs: 5000,
        leaseToken: randomUUID(),
      });
    expect((await claim(['A'], 1)).map((c) => c.id)).toEqual([a1!.id]);
    expect((await claim(null, 10)).map((c) => c.id)).toEqual([b9!.id, b1!.id, a2!.id]);
    expect(await claim([], 10)).toEqual([]);
  });

  it('lists in id order across domains and pages with afterId', async () => {
    const domains = [`list-${randomUUID().slice(0, 8)}`, `list-${randomUUID().slice(0, 8)}`];
    const sent = await bus.sendMany(
      Array.from({ length: 30 }, (_, i) => ({
        domain: domains[i % 2]!,
        type: 'L',
        data: i,
        idempotencyKey: `k${i}`,
      })),
    );
    const ids = sent.map((c) => c.id).sort();
    const firstPage = await bus.list({ type: 'L', limit: 12 });
    const mine = firstPage.filter((c) => domains.includes(c.domain));
    expect(mine.map((c) => c.id)).toEqual(ids.slice(0, mine.length));
    const page = await bus.list({ domain: domains[0], limit: 5, afterId: ids[10] });
    expect(page.map((c) => c.id)).toEqual(
      sent
        .filter((c) => c.domain === domains[0] && c.id > ids[10]!)
        .map((c) => c.id)
        .sort()
        .slice(0, 5),
    );
  });

  it('rolls back a batch whose command stream fails half way, leaving nothing visible', async () => {
    const domain = `batch-${randomUUID().slice(0, 8)}`;
    // eslint-disable-next-line @typescript-eslint/require-await -- an async source is what the batch reads
    async function* chunks() {
      yield Array.from({ length: 3 }, () => bus.prepare({ domain, type: 'T', data: {} }));
      throw new Error('the source broke');
    }
    const id = randomUUID();
    await expect(
      backend.createBatch({ batch: { id, name: null, onComplete: null }, chunks: chunks() }),
    ).rejects.toThrow(/the source broke/);
    expect(await backend.getBatch(id)).toBeNull();
    expect(await bus.list({ domain })).toEqual([]);
    expect(await backend.client.exists(backend.keysOf(domain).staged(id))).toBe(0);
    const again = await backend.createBatch({
      batch: { id, name: 'retried', onComplete: null },
      chunks: [[{ ...bus.prepare({ domain, type: 'T', data: {} }), batchId: id }]],
    });
    expect(again.counts).toMatchObject({ total: 1, pending: 1 });
    await expect(
      backend.createBatch({ batch: { id, name: null, onComplete: null }, chunks: [] }),
    ).rejects.toThrow(/exists already/);
  });

  it('stores a command once when one call repeats its id or idempotency key', async () => {
    const domain = `dups-${randomUUID().slice(0, 8)}`;
    const k = backend.keysOf(domain);
    const id = randomUUID();
    // none of these exists yet: the duplicates are within the call
    const first = await backend.insertCommands({
      commands: [
        bus.prepare({ domain, type: 'T', data: { n: 1 }, id }),
        bus.prepare({ domain, type: 'T', data: { n: 2 }, id }),
        bus.prepare({ domain, type: 'T', data: { n: 3 }, idempotencyKey: 'once' }),
        bus.prepare({ domain, type: 'T', data: { n: 4 }, idempotencyKey: 'once' }),
      ],
    });
    expect(first.map((i) => i.created)).toEqual([true, false, true, false]);
    expect(first.map((i) => i.command.data)).toEqual([{ n: 1 }, { n: 1 }, { n: 3 }, { n: 3 }]);
    expect(first[3]!.command.id).toBe(first[2]!.command.id);
    // one that exists already, next to a new one
    const second = await backend.insertCommands({
      commands: [
        bus.prepare({ domain, type: 'T', data: { n: 5 } }),
        bus.prepare({ domain, type: 'T', data: { n: 6 }, id }),
      ],
    });
    expect(second.map((i) => [i.created, i.command.data])).toEqual([
      [true, { n: 5 }],
      [false, { n: 1 }],
    ]);
    expect((await bus.countByState(domain)).pending).toBe(3);
    // one ready-queue entry, one listing entry and one ticket per stored command
    expect(await backend.client.zcard(`${k.base}r:T`)).toBe(3);
    expect(await backend.client.zcard(k.ids)).toBe(3);
    expect(await backend.client.xlen(k.stream)).toBe(3);
  });

  it('returns from a claim the command as stored after the claim', async () => {
    const domain = `claimed-${randomUUID().slice(0, 8)}`;
    const [sent] = await backend.insertCommands({
      commands: [
        bus.prepare({
          domain,
          type: 'T',
          data: { n: 1 },
          priority: 7,
          maxAttempts: 4,
          correlationId: 'corr-1',
          idempotencyKey: `key-${domain}`,
        }),
      ],
    });
    const claim = () =>
      backend.claim({
        workerId: 'worker-a',
        domain,
        types: null,
        limit: 5,
        leaseMs: 5000,
        leaseToken: randomUUID(),
      });
    const [first] = await claim();
    await backend.settle({
      workerId: 'worker-a',
      settlements: [
        {
          id: first!.id,
          leaseToken: first!.leaseToken,
          attempt: first!.attempts,
          domain,
          kind: 'retry',
          delayMs: 0,
          error: { code: 'E1', message: 'once' },
        },
      ],
    });
    const [second] = await claim();
    const { leaseToken, ...claimed } = second!;
    expect(claimed).toEqual(await backend.getCommand(sent!.command.id));
    expect(claimed).toMatchObject({
      state: 'in_progress',
      attempts: 2,
      priority: 7,
      maxAttempts: 4,
      workerId: 'worker-a',
      correlationId: 'corr-1',
      lastError: { code: 'E1', message: 'once' },
    });
    expect(claimed.leaseExpiresAt!.getTime() - claimed.updatedAt.getTime()).toBe(5000);
    expect(leaseToken).not.toBe(first!.leaseToken);
  });

  it('settles outcomes of several domains in one call, refusing only the stale ones', async () => {
    const domains = [1, 2, 3].map((n) => `settle-${n}-${randomUUID().slice(0, 8)}`);
    await backend.insertCommands({
      commands: domains.flatMap((domain) =>
        [1, 2].map((n) => bus.prepare({ domain, type: 'T', data: { n } })),
      ),
    });
    const claimed = (
      await Promise.all(
        domains.map((domain) =>
          backend.claim({
            workerId: 'worker-s',
            domain,
            types: null,
            limit: 5,
            leaseMs: 5000,
            leaseToken: randomUUID(),
          }),
        ),
      )
    ).flat();
    expect(claimed).toHaveLength(6);
    const [late, ...current] = claimed;
    const result = await backend.settle({
      workerId: 'worker-s',
      settlements: [
        // a lease token no claim handed out: refused, the command untouched
        {
          id: late!.id,
          leaseToken: randomUUID(),
          attempt: late!.attempts,
          domain: late!.domain,
          kind: 'complete',
          resultJson: '1',
        },
        ...current.map((c, i) => ({
          id: c.id,
          leaseToken: c.leaseToken,
          attempt: c.attempts,
          // the domain left out of some, so the store looks it up
          ...(i % 2 === 0 ? { domain: c.domain } : {}),
          kind: 'complete' as const,
          resultJson: JSON.stringify({ i, sep: '\x1f\x1e' }),
        })),
      ],
    });
    expect(result.stale).toEqual([late!.id]);
    expect(result.applied.sort()).toEqual(current.map((c) => c.id).sort());
    expect((await backend.getCommand(late!.id))?.state).toBe('in_progress');
    for (const [i, c] of current.entries()) {
      expect(await backend.getCommand(c.id)).toMatchObject({
        state: 'completed',
        result: { i, sep: '\x1f\x1e' },
      });
    }
  });

  it('refuses a transactional send with a clear error', async () => {
    await expect(
      backend.insertCommands({
        commands: [bus.prepare({ domain: 'd', type: 'T', data: {} })],
        tx: { query: () => Promise.resolve({ rows: [] }) },
      }),
    ).rejects.toThrow(/Redis cannot join an application transaction/);
  });
});

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
