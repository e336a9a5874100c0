/** The limits contract (fixtures/limit-contract.ts) on Redis. */
import { afterAll, describe, it } from 'vitest';
import { createRedisBackend } from '../src/backends/redis/index.js';
import type { RedisBackend } from '../src/backends/redis/redis-backend.js';
import { limitContractTests } from './fixtures/limit-contract.js';
import { checkSharedConcurrencyCap, checkSharedRateLimit } from './fixtures/limit-scenarios.js';
import { deletePrefix, redisAvailable, REDIS_URL, uniquePrefix } from './helpers/redis.js';

const available = await redisAvailable();

describe.runIf(available)('Redis', () => {
  limitContractTests({
    name: 'Redis',
    createBackend: () => createRedisBackend({ url: REDIS_URL, prefix: uniquePrefix('limits') }),
    destroyBackend: async (backend) => {
      await deletePrefix((backend as RedisBackend).prefix);
    },
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
