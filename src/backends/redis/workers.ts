/**
 * The worker registry in Redis: one hash per worker (fields by name below) that expires
 * `forgetAfterMs` after the worker's last refresh, and a zset of the worker ids scored by
 * that same moment, so a listing finds them without a SCAN and drops the forgotten ones
 * as it goes. Times are the Redis clock (TIME in each script), never a worker's.
 */
import type { Redis } from 'ioredis';
import {
  checkStop,
  checkUpsert,
  MAX_LISTED_WORKERS,
  workerStatus,
  type StopWorkerParams,
  type UpsertWorkerParams,
  type WorkerEntry,
  type WorkerRegistryStore,
} from '../worker-registry.js';
import { toStoreError } from './errors.js';
import type { GlobalKeys } from './keys.js';

const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/** The index lives as long as its longest-lived worker, so an unused prefix empties itself. */
const INDEX_EXPIRY = `
if redis.call('PTTL', KEYS[1]) < forget then redis.call('PEXPIRE', KEYS[1], forget) end`;

const SCRIPTS = {
  /**
   * KEYS[1] the index, KEYS[2] the worker's hash
   * ARGV[1] id, ARGV[2] forget after ms, ARGV[3] stale after ms, then the fields' values
   * in FIELDS order
   */
  dbxUpsertWorker: {
    keys: 2,
    lua: `${NOW}
local forget = tonumber(ARGV[2])
redis.call('HSET', KEYS[2], 'seen', now, 'staleAfter', ARGV[3], 'stopped', '',
  'host', ARGV[4], 'pid', ARGV[5], 'domains', ARGV[6], 'types', ARGV[7],
  'concurrency', ARGV[8], 'version', ARGV[9], 'counters', ARGV[10], 'started', ARGV[11])
redis.call('PEXPIRE', KEYS[2], forget)
redis.call('ZADD', KEYS[1], now + forget, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)${INDEX_EXPIRY}
return 1`,
  },
  /**
   * KEYS[1] the index, KEYS[2] the worker's hash
   * ARGV[1] id, ARGV[2] forget after ms, ARGV[3] final counters (JSON)
   * Returns 0 when the worker is not recorded (already forgotten).
   */
  dbxStopWorker: {
    keys: 2,
    lua: `${NOW}
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
local forget = tonumber(ARGV[2])
redis.call('HSET', KEYS[2], 'seen', now, 'stopped', now, 'counters', ARGV[3])
redis.call('PEXPIRE', KEYS[2], forget)
redis.call('ZADD', KEYS[1], now + forget, ARGV[1])${INDEX_EXPIRY}
return 1`,
  },
  /**
   * KEYS[1] the index
   * ARGV[1] the start of every worker's hash key, ARGV[2] most workers returned
   * Returns {now, id, {field, value, ...}, id, {...}, ...}.
   */
  dbxListWorkers: {
    keys: 1,
    lua: `${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)
local out = {now}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)) do
  local h = redis.call('HGETALL', ARGV[1] .. id)
  if #h > 0 then
    out[#out + 1] = id
    out[#out + 1] = h
  end
end
return out`,
  },
} as const;

type ScriptMethod = (...args: (string | number)[]) => Promise<unknown>;

export class RedisWorkerRegistry implements WorkerRegistryStore {
  constructor(
    private readonly client: Redis,
    private readonly keys: GlobalKeys,
  ) {
    for (const [name, script] of Object.entries(SCRIPTS)) {
      client.defineCommand(name, { numberOfKeys: script.keys, lua: script.lua });
    }
  }

  private run(name: keyof typeof SCRIPTS, ...args: (string | number)[]): Promise<unknown> {
    const call = (this.client as unknown as Record<string, ScriptMethod>)[name]!;
    return call.call(this.client, ...args);
  }

  async upsertWorker(params: UpsertWorkerParams): Promise<void> {
    const { info, staleAfterMs, forgetAfterMs } = checkUpsert(params);
    try {
      await this.run(
        'dbxUpsertWorker',
        this.keys.workers,
        this.keys.workerBase + info.id,
        info.id,
        forgetAfterMs,
        staleAfterMs,
        info.host,
        info.pid,
        JSON.stringify(info.domains),
        info.types === null ? '' : JSON.stringify(info.types),
        info.concurrency,
        info.version,
        JSON.stringify(info.counters),
        info.startedAt.getTime(),
      );
    } catch (error) {
      throw toStoreError(error, 'recording a worker in the registry');
    }
  }

  async stopWorker(params: StopWorkerParams): Promise<void> {
    const { id, counters, forgetAfterMs } = checkStop(params);
    try {
      await this.run(
        'dbxStopWorker',
        this.keys.workers,
        this.keys.workerBase + id,
        id,
        forgetAfterMs,
        JSON.stringify(counters),
      );
    } catch (error) {
      throw toStoreError(error, 'marking a worker stopped in the registry');
    }
  }

  async removeWorker(id: string): Promise<void> {
    try {
      await this.client
        .multi()
        .zrem(this.keys.workers, id)
        .unlink(this.keys.workerBase + id)
        .exec();
    } catch (error) {
      throw toStoreError(error, 'removing a worker from the registry');
    }
  }

  async listWorkers(): Promise<WorkerEntry[]> {
    let reply: unknown[];
    try {
      reply = (await this.run(
        'dbxListWorkers',
        this.keys.workers,
        this.keys.workerBase,
        MAX_LISTED_WORKERS,
      )) as unknown[];
    } catch (error) {
      throw toStoreError(error, 'listing the workers of the registry');
    }
    const now = Number(reply[0]);
    const entries: WorkerEntry[] = [];
    for (let i = 1; i + 1 < reply.length; i += 2) {
      entries.push(toEntry(String(reply[i]), reply[i + 1] as string[], now));
    }
    return entries.sort(
      (a, b) => a.startedAt.getTime() - b.startedAt.getTime() || (a.id < b.id ? -1 : 1),
    );
  }
}

/** A worker's hash (HGETALL's flat field, value list), read by field name. */
function toEntry(id: string, flat: string[], now: number): WorkerEntry {
  const h = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) h.set(flat[i]!, flat[i + 1]!);
  const field = (name: string) => h.get(name) ?? '';
  const seen = Number(field('seen'));
  const stopped = field('stopped');
  const entry = {
    id,
    host: field('host'),
    pid: Number(field('pid')),
    domains: JSON.parse(field('domains') || '[]') as string[],
    types: field('types') === '' ? null : (JSON.parse(field('types')) as string[]),
    concurrency: Number(field('concurrency')),
    version: field('version'),
    counters: JSON.parse(field('counters') || '{}') as Record<string, number>,
    startedAt: new Date(Number(field('started'))),
    lastSeenAt: new Date(seen),
    silentMs: Math.max(0, now - seen),
    staleAfterMs: Number(field('staleAfter')),
    stoppedAt: stopped === '' ? null : new Date(Number(stopped)),
  };
  return { ...entry, status: workerStatus(entry) };
}
