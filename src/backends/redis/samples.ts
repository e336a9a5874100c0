/**
 * Throughput samples in Redis. One hash per bucket, `<domain>\0<count>` -> n, added to
 * with HINCRBY by every worker (so writes of many workers to one bucket add up with no
 * script), and a sorted set of the buckets' times, so that a read finds the buckets of
 * the last hour or day with one ZRANGE and reads them in one pipeline, not by probing
 * 8,640 keys a day. Each bucket's hash expires when it leaves retention (PEXPIREAT), and
 * each write trims the sorted set to the same window: nothing has to run to drop old
 * samples. All keys share one hash tag, so a write is one MULTI on one slot of a cluster.
 */
import type { Redis } from 'ioredis';
import type { ThroughputSample, ThroughputSampleStore } from '../roles/samples.js';
import { toStoreError } from './errors.js';

/** How long samples are kept (the role promises at least a day). */
export const SAMPLE_RETENTION_MS = 7 * 24 * 3600_000;

/** The counts of a sample, as the fields of a bucket's hash name them after the domain. */
const COUNTS = ['completed', 'failed', 'retried', 'troubleshooting'] as const;
type Counts = Pick<ThroughputSample, (typeof COUNTS)[number]>;

/** Between the domain and the count in a field; a domain never holds it. */
const SEPARATOR = '\0';

export class RedisSampleStore implements ThroughputSampleStore {
  /** zset of the buckets that have samples: member and score the bucket's time (ms). */
  private readonly index: string;
  private readonly bucketBase: string;

  constructor(
    private readonly client: Redis,
    prefix: string,
  ) {
    this.index = `${prefix}:samples:{throughput}:buckets`;
    this.bucketBase = `${prefix}:samples:{throughput}:b:`;
  }

  async recordSamples(samples: ThroughputSample[]): Promise<void> {
    if (samples.length === 0) return;
    const multi = this.client.multi();
    const buckets = new Set<number>();
    for (const s of samples) {
      const at = s.at.getTime();
      const key = this.bucketBase + at;
      for (const count of COUNTS)
        if (s[count] !== 0) multi.hincrby(key, s.domain + SEPARATOR + count, s[count]);
      buckets.add(at);
    }
    for (const at of buckets) {
      multi.pexpireat(this.bucketBase + at, at + SAMPLE_RETENTION_MS);
      multi.zadd(this.index, at, String(at));
    }
    multi.zremrangebyscore(this.index, '-inf', `(${Date.now() - SAMPLE_RETENTION_MS}`);
    try {
      const replies = (await multi.exec()) ?? [];
      const failed = replies.find(([error]) => error)?.[0];
      if (failed) throw failed;
    } catch (error) {
      throw toStoreError(error, 'recording throughput samples');
    }
  }

  async readSamples(params: {
    since: Date;
    domain?: string | undefined;
  }): Promise<ThroughputSample[]> {
    const { domain } = params;
    try {
      const ats = (await this.client.zrangebyscore(this.index, params.since.getTime(), '+inf')).map(
        Number,
      );
      if (ats.length === 0) return [];
      const pipeline = this.client.pipeline();
      for (const at of ats) {
        const key = this.bucketBase + at;
        if (domain === undefined) pipeline.hgetall(key);
        else pipeline.hmget(key, ...COUNTS.map((c) => domain + SEPARATOR + c));
      }
      const replies = (await pipeline.exec()) ?? [];
      const samples: ThroughputSample[] = [];
      ats.forEach((at, i) => {
        const [error, reply] = replies[i] ?? [new Error('no reply')];
        if (error) throw error;
        const byDomain =
          domain === undefined
            ? fromHash(reply as Record<string, string>)
            : fromFields(domain, reply as (string | null)[]);
        for (const [name, counts] of [...byDomain].sort(([a], [b]) => (a < b ? -1 : 1)))
          samples.push({ at: new Date(at), domain: name, ...counts });
      });
      return samples;
    } catch (error) {
      throw toStoreError(error, 'reading throughput samples');
    }
  }
}

const none = (): Counts => ({ completed: 0, failed: 0, retried: 0, troubleshooting: 0 });

/** A bucket's whole hash, per domain; an expired bucket reads as an empty hash. */
function fromHash(hash: Record<string, string>): Map<string, Counts> {
  const byDomain = new Map<string, Counts>();
  for (const [field, value] of Object.entries(hash)) {
    const cut = field.lastIndexOf(SEPARATOR);
    const count = field.slice(cut + 1) as (typeof COUNTS)[number];
    if (cut < 0 || !COUNTS.includes(count)) continue;
    const name = field.slice(0, cut);
    let counts = byDomain.get(name);
    if (!counts) byDomain.set(name, (counts = none()));
    counts[count] = Number(value);
  }
  return byDomain;
}

/** One domain's fields of a bucket (HMGET in COUNTS order); nothing when it has none. */
function fromFields(domain: string, values: (string | null)[]): Map<string, Counts> {
  if (values.every((v) => v === null)) return new Map();
  const counts = none();
  COUNTS.forEach((c, i) => (counts[c] = Number(values[i] ?? 0)));
  return new Map([[domain, counts]]);
}
