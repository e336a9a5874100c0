import type { DedupStore } from '../backends/roles/dedup.js';

export type { DedupStore } from '../backends/roles/dedup.js';

/**
 * A DedupStore with a local cache in front: ids this process handled within the TTL are
 * answered from memory, so the common case (no duplicate) costs the store one read per
 * batch and a redelivered burst costs none. The cache is bounded (oldest entry dropped).
 */
export class CachedDedup implements DedupStore {
  private readonly cache = new Map<string, number>();

  constructor(
    private readonly store: DedupStore,
    private readonly maxEntries = 10_000,
  ) {}

  async seenEvents(scope: string, ids: string[]): Promise<Set<string>> {
    const now = Date.now();
    const seen = new Set<string>();
    const ask: string[] = [];
    for (const id of ids) {
      const until = this.cache.get(`${scope}\u0000${id}`);
      if (until !== undefined && until > now) seen.add(id);
      else ask.push(id);
    }
    if (ask.length > 0) for (const id of await this.store.seenEvents(scope, ask)) seen.add(id);
    return seen;
  }

  async rememberEvents(scope: string, ids: string[], ttlMs: number): Promise<void> {
    await this.store.rememberEvents(scope, ids, ttlMs);
    const until = Date.now() + ttlMs;
    for (const id of ids) {
      const key = `${scope}\u0000${id}`;
      this.cache.delete(key);
      this.cache.set(key, until);
    }
    // A Map iterates in insertion order: the first keys are the oldest.
    for (const key of this.cache.keys()) {
      if (this.cache.size <= this.maxEntries) break;
      this.cache.delete(key);
    }
  }
}

/** The part of an ioredis client the Redis dedup store uses. */
export interface RedisDedupClient {
  mget(...keys: string[]): Promise<(string | null)[]>;
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
}

/**
 * Sets every key given with NX and a TTL, in one call: a hundred SETs of a batch as one
 * script cost Redis and the client a third of the CPU of a pipeline of SETs.
 */
const REMEMBER = `for _, key in ipairs(KEYS) do redis.call('SET', key, '1', 'PX', ARGV[1], 'NX') end
return #KEYS`;

/**
 * Handled event ids in Redis: one key per id (`<prefix><scope>:<id>`) set with NX and a
 * TTL, so Redis forgets them by itself. Takes any ioredis client (a Redis store's, or the
 * Redis Streams transport's); dispatchbox/streams does not import ioredis itself. The keys
 * of one call are written by one script, so on Redis Cluster give it a client of one node.
 */
export function redisDedup(
  client: RedisDedupClient,
  options: { prefix?: string } = {},
): DedupStore {
  const prefix = options.prefix ?? 'dispatchbox:dedup:';
  const key = (scope: string, id: string) => `${prefix}${scope}:${id}`;
  return {
    async seenEvents(scope, ids) {
      if (ids.length === 0) return new Set();
      const values = await client.mget(...ids.map((id) => key(scope, id)));
      return new Set(ids.filter((_, i) => values[i] !== null && values[i] !== undefined));
    },
    async rememberEvents(scope, ids, ttlMs) {
      if (ids.length === 0) return;
      const keys = ids.map((id) => key(scope, id));
      await client.eval(REMEMBER, keys.length, ...keys, Math.max(1, Math.round(ttlMs)));
    },
  };
}
