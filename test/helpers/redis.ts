import { Redis } from 'ioredis';
import { requireServer } from './servers.js';

/**
 * The shared Redis of the test machine. Tests use database 5 and a key prefix of their
 * own, and delete only their own keys: never FLUSHDB, never database 0.
 */
export const REDIS_TEST_DB = 5;
export const REDIS_URL =
  process.env.DISPATCHBOX_TEST_REDIS_URL ?? `redis://127.0.0.1:6379/${REDIS_TEST_DB}`;

export function redisAvailable(): Promise<boolean> {
  const port = Number(new URL(REDIS_URL).port || 6379);
  return requireServer('Redis', port);
}

/** A key prefix no other test file or run uses. */
export function uniquePrefix(name: string): string {
  return `test-${name}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Deletes every key under `prefix` (SCAN + UNLINK, a slice at a time). */
export async function deletePrefix(prefix: string, url = REDIS_URL): Promise<number> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 2 });
  await client.connect();
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await client.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
  return deleted;
}
