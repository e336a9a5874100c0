/** The limits contract (fixtures/limit-contract.ts) on Redis. */
import { describe } from 'vitest';
import { createRedisBackend } from '../src/backends/redis/index.js';
import type { RedisBackend } from '../src/backends/redis/redis-backend.js';
import { limitContractTests } from './fixtures/limit-contract.js';
import { deletePrefix, redisAvailable, REDIS_URL, uniquePrefix } from './helpers/redis.js';

const available = await redisAvailable();

describe.skipIf(!available)('Redis', () => {
  limitContractTests({
    name: 'Redis',
    createBackend: () => createRedisBackend({ url: REDIS_URL, prefix: uniquePrefix('limits') }),
    destroyBackend: async (backend) => {
      await deletePrefix((backend as RedisBackend).prefix);
    },
  });
});
