import { describe } from 'vitest';
import { createRedisBackend } from '../src/backends/redis/index.js';
import type { RedisBackend } from '../src/backends/redis/redis-backend.js';
import { runStoreConformance } from '../src/testing/conformance/index.js';
import { PrivateRedis } from './helpers/redis-server.js';
import { deletePrefix, redisAvailable, REDIS_URL, uniquePrefix } from './helpers/redis.js';

const available = await redisAvailable();

describe.runIf(available)('Redis', () => {
  runStoreConformance({
    name: 'Redis',
    open: async () => {
      const backend = await createRedisBackend({
        url: REDIS_URL,
        prefix: uniquePrefix('conformance'),
      });
      await backend.migrate();
      return backend;
    },
    cleanup: async (backend) => {
      await deletePrefix((backend as RedisBackend).prefix);
    },
    // A private server, killed with kill -9.
    outage: async () => {
      const server = await PrivateRedis.create();
      const backend = await createRedisBackend({ url: server.url });
      await backend.migrate();
      return { backend, takeDown: () => server.kill(), cleanup: () => server.destroy() };
    },
  });
});
