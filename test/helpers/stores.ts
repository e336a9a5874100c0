import { randomUUID } from 'node:crypto';
import type { Backend } from '../../src/backends/backend.js';
import { createPGliteBackend } from '../../src/backends/pglite/index.js';
import { createPostgresBackend } from '../../src/backends/postgres/index.js';
import { createRedisBackend } from '../../src/backends/redis/index.js';
import type { RedisBackend } from '../../src/backends/redis/redis-backend.js';
import type { SqlBackend } from '../../src/backends/sql/sql-backend.js';
import { deletePrefix, redisAvailable, REDIS_URL, uniquePrefix } from './redis.js';
import { POSTGRES_URL, requireServer } from './servers.js';

/** A store a suite runs on: opened fresh (migrated) per test, destroyed after. */
export interface TestStore {
  name: string;
  available: boolean;
  open(): Promise<Backend>;
  destroy(backend: Backend): Promise<void>;
}

/**
 * The three stores, each in a place of its own named after `label` (a PostgreSQL schema,
 * a Redis key prefix); the server-backed ones fail in CI when their server is missing.
 */
export async function everyStore(label: string): Promise<TestStore[]> {
  return [
    {
      name: 'embedded (PGlite)',
      available: true,
      open: async () => {
        const backend = await createPGliteBackend();
        await backend.migrate();
        return backend;
      },
      destroy: async () => {},
    },
    {
      name: 'PostgreSQL',
      available: await requireServer('PostgreSQL', 5432),
      open: async () => {
        const backend = await createPostgresBackend({
          connectionString: POSTGRES_URL,
          schema: `t_${label}_${randomUUID().replace(/-/g, '').slice(0, 12)}`,
        });
        await backend.migrate();
        return backend;
      },
      destroy: async (backend) => {
        const sql = backend as SqlBackend;
        await sql.driver.query(`DROP SCHEMA "${sql.schema}" CASCADE`);
      },
    },
    {
      name: 'Redis',
      available: await redisAvailable(),
      open: async () => {
        const backend = await createRedisBackend({ url: REDIS_URL, prefix: uniquePrefix(label) });
        await backend.migrate();
        return backend;
      },
      destroy: async (backend) => {
        await deletePrefix((backend as RedisBackend).prefix);
      },
    },
  ];
}
