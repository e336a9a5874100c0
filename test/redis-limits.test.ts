/** Redis-only limits behaviour; the limits role's conformance runs in test/redis.test.ts. */
import { afterAll, describe, expect, it } from 'vitest';
import { createRedisBackend } from '../src/backends/redis/index.js';
import { checkSharedConcurrencyCap, checkSharedRateLimit } from './fixtures/limit-scenarios.js';
import { deletePrefix, redisAvailable, REDIS_URL, uniquePrefix } from './helpers/redis.js';

const available = await redisAvailable();

describe.runIf(available)('Redis token buckets expire only once full again', () => {
  it('keeps an emptied bucket at least until it has refilled (a new one would start full)', async () => {
    const backend = await createRedisBackend({ url: REDIS_URL, prefix: uniquePrefix('ttl') });
    try {
      // one token every 10 s, at most 2: emptied, it is full again in 20 s
      const spec = { key: 'ttl', limit: 1, perMs: 10_000, capacity: 2 };
      expect((await backend.takeToken(spec)).granted).toBe(true);
      expect((await backend.takeToken(spec)).granted).toBe(true);
      const ttl = await backend.client.pttl(backend.keys.bucket(spec.key));
      expect(ttl).toBeGreaterThanOrEqual(19_000);
      // and not forever: a full bucket is the same as none
      expect(ttl).toBeLessThanOrEqual(21_000 + 1000);
    } finally {
      await deletePrefix(backend.prefix);
      await backend.close();
    }
  });
});

describe.runIf(available)('shared limits: Redis, three worker processes', () => {
  const prefixes: string[] = [];
  afterAll(async () => {
    for (const prefix of prefixes) await deletePrefix(prefix);
  });

  it('starts at most burst + rate × window handlers in every 1 s and 5 s window, through stalls, and uses the rate', async () => {
    const schema = uniquePrefix('rl');
    prefixes.push(schema);
    const outcome = await checkSharedRateLimit({ databaseUrl: REDIS_URL, schema });
    console.info('Redis rate limit', outcome);
  });

  it('never runs more than the global cap at once across the three processes', async () => {
    const schema = uniquePrefix('cap');
    prefixes.push(schema);
    const outcome = await checkSharedConcurrencyCap({ databaseUrl: REDIS_URL, schema });
    console.info('Redis concurrency cap', outcome);
  });
});
