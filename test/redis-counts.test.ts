import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandCount, Settlement } from '../src/backends/backend.js';
import { createRedisBackend } from '../src/backends/redis/index.js';
import type { RedisBackend } from '../src/backends/redis/redis-backend.js';
import type { ClaimedCommand, NewCommand } from '../src/core/command.js';
import { SchemaVersionError } from '../src/core/errors.js';
import { eventually } from '../src/testing/conformance/context.js';
import { newCommands } from './helpers/commands.js';
import { deletePrefix, redisAvailable, REDIS_URL, uniquePrefix } from './helpers/redis.js';

const available = await redisAvailable();

/** Every test's store: its own prefix, deleted afterwards. */
const prefixes: string[] = [];
const backends: RedisBackend[] = [];
async function store(prefix = uniquePrefix('counts')): Promise<RedisBackend> {
  const backend = await createRedisBackend({ url: REDIS_URL, prefix });
  await backend.migrate();
  prefixes.push(prefix);
  backends.push(backend);
  return backend;
}

const key = (c: { domain: string; type: string; state: string }) =>
  `${c.domain}|${c.type}|${c.state}`;
const sorted = (counts: CommandCount[]) =>
  [...counts].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));

/** The counts as they are, computed from every command the store lists. */
async function truth(backend: RedisBackend, domain?: string): Promise<CommandCount[]> {
  const commands = await backend.admin.listCommands({ limit: 1_000_000, domain });
  const counts = new Map<string, CommandCount>();
  for (const c of commands) {
    const k = key(c);
    const found = counts.get(k);
    if (found) found.count++;
    else counts.set(k, { domain: c.domain, type: c.type, state: c.state, count: 1 });
  }
  return sorted([...counts.values()]);
}

/** countCommands (and countByState) agree exactly with the listed commands. */
async function expectExact(backend: RedisBackend): Promise<CommandCount[]> {
  const expected = await truth(backend);
  expect(sorted(await backend.admin.countCommands({}))).toEqual(expected);
  for (const domain of new Set(expected.map((c) => c.domain))) {
    expect(sorted(await backend.admin.countCommands({ domain }))).toEqual(
      expected.filter((c) => c.domain === domain),
    );
  }
  const byState = await backend.admin.countByState({});
  for (const [state, n] of Object.entries(byState)) {
    expect(n, state).toBe(
      expected.filter((c) => c.state === state).reduce((s, c) => s + c.count, 0),
    );
  }
  return expected;
}

/** The raw counter hashes hold no zero (or negative) field. */
async function expectNoDeadFields(backend: RedisBackend, domains: string[]): Promise<void> {
  for (const domain of domains) {
    const fields = await backend.client.hgetall(backend.keysOf(domain).counts);
    for (const [field, n] of Object.entries(fields)) expect(Number(n), field).toBeGreaterThan(0);
  }
}

async function claim(
  backend: RedisBackend,
  domain: string,
  limit: number,
  options: { leaseMs?: number; types?: string[]; workerId?: string } = {},
): Promise<ClaimedCommand[]> {
  return backend.claim({
    workerId: options.workerId ?? 'counts-worker',
    domain,
    types: options.types ?? null,
    limit,
    leaseMs: options.leaseMs ?? 30_000,
    leaseToken: randomUUID(),
  });
}

const base = (c: ClaimedCommand) => ({
  id: c.id,
  leaseToken: c.leaseToken,
  attempt: c.attempts,
  domain: c.domain,
});
const complete = (c: ClaimedCommand): Settlement => ({
  ...base(c),
  kind: 'complete',
  resultJson: '"ok"',
});
const retry = (c: ClaimedCommand): Settlement => ({
  ...base(c),
  kind: 'retry',
  delayMs: 0,
  error: { code: 'FLAKY', message: 'try again' },
});
const troubleshoot = (c: ClaimedCommand): Settlement => ({
  ...base(c),
  kind: 'troubleshoot',
  error: { code: 'BROKEN', message: 'needs an operator' },
});
const release = (c: ClaimedCommand): Settlement => ({
  ...base(c),
  kind: 'release',
  delayMs: 0,
  reason: 'snoozed',
});

describe.runIf(available)('Redis counts per domain, type and state', () => {
  afterAll(async () => {
    for (const b of backends) await b.close();
    for (const p of prefixes) await deletePrefix(p);
  });

  it('match the listed commands exactly after every kind of transition', async () => {
    const backend = await store();
    const [d1, d2] = ['orders', 'mail'];
    const send = (commands: NewCommand[]) => backend.insertCommands({ commands });

    // send: two domains, two types, one delayed, then a resend (no change)
    const first = newCommands(6, { domain: d1, type: 'charge' });
    await send([
      ...first,
      ...newCommands(4, { domain: d1, type: 'refund', maxAttempts: 1 }),
      ...newCommands(3, { domain: d2, type: 'welcome' }),
      ...newCommands(2, { domain: d2, type: 'welcome', delayMs: 3_600_000 }),
    ]);
    expect(await expectExact(backend)).toHaveLength(3);
    await send(first.slice(0, 2));
    await send(newCommands(1, { domain: d1, type: 'charge', idempotencyKey: 'once' }));
    await send(newCommands(1, { domain: d1, type: 'charge', idempotencyKey: 'once' }));
    await expectExact(backend);

    // claim, of one type then of every type
    const charges = await claim(backend, d1, 3, { types: ['charge'] });
    expect(charges).toHaveLength(3);
    await expectExact(backend);
    const mixed = await claim(backend, d1, 4);
    await expectExact(backend);

    // complete, retry, troubleshoot, release
    const [c1, c2, c3] = charges as [ClaimedCommand, ClaimedCommand, ClaimedCommand];
    const settled = await backend.settle({
      workerId: 'counts-worker',
      settlements: [complete(c1), retry(c2), troubleshoot(c3), ...mixed.map(release)],
    });
    expect(settled.stale).toEqual([]);
    await expectExact(backend);

    // a late outcome (the command is no longer in progress) is refused and counts nothing
    const late = await backend.settle({ workerId: 'counts-worker', settlements: [complete(c2)] });
    expect(late.stale).toEqual([c2.id]);
    await expectExact(backend);

    // lease expiry: back to pending, or to troubleshooting on the last attempt
    const expiring = await claim(backend, d1, 100, { leaseMs: 20 });
    expect(expiring.some((c) => c.type === 'refund')).toBe(true);
    await eventually(async () => {
      await backend.recoverExpiredLeases({ limit: 1000 });
      const counts = await backend.admin.countCommands({ domain: d1 });
      expect(counts.filter((c) => c.state === 'in_progress')).toEqual([]);
    });
    const recovered = await expectExact(backend);
    expect(recovered).toContainEqual(
      expect.objectContaining({ domain: d1, type: 'refund', state: 'troubleshooting' }),
    );

    // the operator: retry and complete from troubleshooting, cancel a pending command
    const stuck = await backend.admin.listCommands({ state: 'troubleshooting', limit: 100 });
    expect(stuck.length).toBeGreaterThanOrEqual(2);
    await backend.operate({ id: stuck[0]!.id, action: 'retry', actor: 'ops', reason: null });
    await expectExact(backend);
    await backend.operate({
      id: stuck[1]!.id,
      action: 'complete',
      actor: 'ops',
      reason: null,
      resultJson: '1',
    });
    await expectExact(backend);
    const [waiting] = await backend.admin.listCommands({ state: 'pending', domain: d2, limit: 1 });
    await backend.operate({ id: waiting!.id, action: 'cancel', actor: 'ops', reason: null });
    await expectExact(backend);

    // a batch across both domains, run to its end (its completion command is counted too)
    const batchId = randomUUID();
    await backend.createBatch({
      batch: { id: batchId, name: 'counted', onComplete: { domain: d2, type: 'report', data: 1 } },
      chunks: [
        newCommands(5, { domain: d1, type: 'charge', batchId }),
        newCommands(5, { domain: d2, type: 'welcome', batchId }),
      ],
    });
    await expectExact(backend);
    // staged commands of a batch not committed are neither listed nor counted
    await backend.stageCommands(randomUUID(), newCommands(3, { domain: d1, type: 'ghost' }));
    expect((await expectExact(backend)).some((c) => c.type === 'ghost')).toBe(false);

    // drain both domains, completing everything, then finish the batch
    for (const domain of [d1, d2]) {
      for (;;) {
        const claimed = await claim(backend, domain, 50);
        if (claimed.length === 0) break;
        await backend.settle({ workerId: 'counts-worker', settlements: claimed.map(complete) });
        await expectExact(backend);
      }
    }
    await backend.finishBatches({ batchIds: [batchId] });
    const finished = await expectExact(backend);
    expect(finished).toContainEqual(
      expect.objectContaining({ domain: d2, type: 'report', state: 'pending', count: 1 }),
    );

    // prune: completed and cancelled commands go, and their counters with them
    const pruned = await backend.prune({ olderThanMs: 0, limit: 10_000 });
    expect(pruned).toBeGreaterThan(0);
    const left = await expectExact(backend);
    expect(left.filter((c) => c.state === 'completed' || c.state === 'cancelled')).toEqual([]);
    await expectNoDeadFields(backend, [d1, d2]);
  });

  it('stay exact with several workers claiming and settling at once', async () => {
    const prefix = uniquePrefix('counts-race');
    const backend = await store(prefix);
    const domain = 'race';
    const types = ['a', 'b', 'c'];
    for (const type of types) {
      await backend.insertCommands({
        commands: newCommands(300, { domain, type, maxAttempts: 2 }),
      });
    }
    // each worker its own connection; outcomes alternate so every transition races
    const workers = await Promise.all(
      Array.from({ length: 4 }, async () => {
        const b = await createRedisBackend({ url: REDIS_URL, prefix });
        backends.push(b);
        return b;
      }),
    );
    const outcomes = [complete, retry, troubleshoot, release, complete, complete];
    await Promise.all(
      workers.map(async (worker, w) => {
        let round = 0;
        for (;;) {
          const claimed = await claim(worker, domain, 7, { workerId: `w${w}` });
          if (claimed.length === 0) return;
          await worker.settle({
            workerId: `w${w}`,
            settlements: claimed.map((c, i) => outcomes[(round + i + w) % outcomes.length]!(c)),
          });
          // an operator at the same time: retry what waits in troubleshooting
          if (round % 5 === 0) {
            const [stuck] = await worker.admin.listCommands({ state: 'troubleshooting', limit: 1 });
            if (stuck) {
              await worker
                .operate({ id: stuck.id, action: 'retry', actor: 'ops', reason: null })
                .catch(() => undefined);
            }
          }
          round++;
        }
      }),
    );
    const counts = await expectExact(backend);
    expect(counts.filter((c) => c.state === 'pending' || c.state === 'in_progress')).toEqual([]);
    expect(counts.reduce((n, c) => n + c.count, 0)).toBe(900);
    await expectNoDeadFields(backend, [domain]);
  });

  describe('a store of layout 1 (counts per state only)', () => {
    let backend: RedisBackend;
    let raw: Redis;
    beforeAll(() => {
      raw = new Redis(REDIS_URL);
    });
    afterAll(() => raw.disconnect());

    /** Turns the store back into what layout 1 left: counts per state, version 1 or none. */
    async function downgrade(version: string | null): Promise<void> {
      const domains = await raw.smembers(backend.keys.domains);
      for (const domain of domains) {
        const k = backend.keysOf(domain);
        const byState = await backend.admin.countByState({ domain });
        await raw.del(k.counts);
        for (const [state, n] of Object.entries(byState)) {
          if (n > 0) await raw.hset(k.counts, state, n);
        }
      }
      if (version === null) await raw.del(backend.keys.schema);
      else await raw.set(backend.keys.schema, version);
    }

    it('is refused at start, and migrate() recounts it once, exactly', async () => {
      backend = await store();
      await backend.insertCommands({ commands: newCommands(20, { domain: 'old', type: 'x' }) });
      await backend.insertCommands({ commands: newCommands(5, { domain: 'older', type: 'y' }) });
      const claimed = await claim(backend, 'old', 8);
      await backend.settle({
        workerId: 'counts-worker',
        settlements: [...claimed.slice(0, 5).map(complete), ...claimed.slice(5).map(troubleshoot)],
      });
      await claim(backend, 'old', 3);
      const expected = await truth(backend);

      for (const version of ['1', null]) {
        await downgrade(version);
        await expect(backend.checkSchema()).rejects.toThrow(SchemaVersionError);
        await expect(backend.checkSchema()).rejects.toThrow(/layout version 1.*migrate/);
        await backend.migrate();
        await backend.checkSchema();
        expect(await raw.get(backend.keys.schema)).toBe('2');
        expect(sorted(await backend.admin.countCommands({}))).toEqual(expected);
        await expectNoDeadFields(backend, ['old', 'older']);
      }
      // again: nothing to do, nothing changes
      await backend.migrate();
      expect(sorted(await backend.admin.countCommands({}))).toEqual(expected);
    });

    it('an empty store is marked with the current layout at start', async () => {
      const fresh = await createRedisBackend({
        url: REDIS_URL,
        prefix: uniquePrefix('counts-new'),
      });
      backends.push(fresh);
      prefixes.push(fresh.prefix);
      await fresh.checkSchema();
      expect(await raw.get(fresh.keys.schema)).toBe('2');
    });
  });
});
