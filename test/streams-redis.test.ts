/**
 * The stream transport conformance suite (test/helpers/stream-conformance.ts) on Redis
 * Streams: the shared Redis (db 5, a key prefix of this run's own), and a private
 * redis-server (append-only file, fsync on every write) for the restart test.
 */
import { afterAll } from 'vitest';
import { deletePrefix, redisAvailable, REDIS_URL, uniquePrefix } from './helpers/redis.js';
import { PrivateRedis, redisServerInstalled } from './helpers/redis-server.js';
import { streamConformance } from './helpers/stream-conformance.js';

const available = await redisAvailable();
const installed = await redisServerInstalled();
if (!installed && process.env.CI) {
  throw new Error('redis-server is not installed, and CI needs it for the restart test');
}

if (available) {
  const prefix = uniquePrefix('streams-redis-conformance');
  afterAll(async () => {
    await deletePrefix(prefix);
  });

  streamConformance('redis', {
    spec: () => ({ kind: 'redis', options: { url: REDIS_URL, keyPrefix: `${prefix}:` } }),
    ...(installed
      ? {
          restartable: async () => {
            const server = await PrivateRedis.create();
            return {
              spec: { kind: 'redis', options: { url: server.url, keyPrefix: 'conformance:' } },
              restart: async () => {
                await server.kill();
                await server.start();
              },
              stop: () => server.destroy(),
            };
          },
        }
      : { noRestart: 'redis-server is not installed' }),
  });
}
