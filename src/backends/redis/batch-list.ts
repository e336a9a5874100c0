import type { Redis } from 'ioredis';
import { COMMAND_STATES, countKeyOf } from '../../core/lifecycle.js';
import { batchStatus } from '../batch-status.js';
import type { BatchCounts, BatchInfo } from '../backend.js';
import { toStoreError } from './errors.js';
import type { DomainKeys, GlobalKeys } from './keys.js';

/** A batch's counter fields (each state's name, and `failed`) and the counts they add to. */
const COUNT_FIELDS: ReadonlyMap<string, keyof BatchCounts> = new Map<string, keyof BatchCounts>([
  ...COMMAND_STATES.map((s) => [s, countKeyOf(s)] as const),
  ['failed', 'failed'],
]);

/** A batch's record, the hash under GlobalKeys.batch(id), as HGETALL returns it. */
export type BatchRecord = Partial<
  Record<'n' | 'oc' | 'c' | 'st' | 'total' | 'doms' | 'act' | 'f' | 'status' | 'cc', string>
>;

/**
 * The batch list on Redis: a sorted set of every committed batch's id (GlobalKeys.batchIds,
 * added by the commit, removed by retention), read newest first, with each batch's record
 * and per-domain counters read as RedisBatches.get reads them, a page at a time.
 */
export class RedisBatchListing {
  /** Whether the index of batch ids was checked for batches created before it. */
  private indexed = false;

  constructor(
    private readonly host: {
      readonly client: Redis;
      readonly keys: GlobalKeys;
      keysOf(domain: string): DomainKeys;
    },
  ) {}

  private get client(): Redis {
    return this.host.client;
  }

  /**
   * Batches newest first, from the index of committed batch ids (ids are UUIDv7, so id
   * order is creation order). The records of a page are read in one pipeline, and their
   * counters in another.
   */
  async list(params: { limit: number; afterId?: string | undefined }): Promise<BatchInfo[]> {
    try {
      if (!this.indexed) await this.indexBatchIds();
      const from = params.afterId ? `(${params.afterId}` : '+';
      const index = this.host.keys.batchIds;
      const ids = await this.client.zrange(
        index,
        from,
        '-',
        'BYLEX',
        'REV',
        'LIMIT',
        0,
        params.limit,
      );
      if (ids.length === 0) return [];
      const reading = this.client.pipeline();
      for (const id of ids) reading.hgetall(this.host.keys.batch(id));
      const records = ((await reading.exec()) ?? []).map(([error, reply]) => {
        if (error) throw error;
        return reply as BatchRecord;
      });
      // A batch pruned between the two reads is left out of the page.
      const listed = ids.flatMap((id, i) => {
        const record = records[i]!;
        return record.st && record.st !== 'staging' ? [{ id, record }] : [];
      });
      const counts = await this.countsOfMany(listed);
      return listed.map(({ id, record }, i) => toBatchInfo(id, record, counts[i]!));
    } catch (error) {
      throw toStoreError(error, 'listing batches');
    }
  }

  /**
   * Batches committed by a version before the index are in the open or the finished set:
   * the index starts as their union, once. A commit adds a batch to the open set and the
   * index in one MULTI, so one committed meanwhile is in the union too.
   */
  private async indexBatchIds(): Promise<void> {
    const { batchIds, openBatches, finishedBatches } = this.host.keys;
    if ((await this.client.exists(batchIds)) === 0)
      await this.client.zunionstore(batchIds, 2, openBatches, finishedBatches, 'WEIGHTS', 0, 0);
    this.indexed = true;
  }

  /** The counts of several batches: every batch's per-domain counters in one pipeline. */
  private async countsOfMany(
    batches: { id: string; record: BatchRecord }[],
  ): Promise<BatchCounts[]> {
    const pipeline = this.client.pipeline();
    const domainsOf = batches.map(({ id, record }) => {
      const domains = JSON.parse(record.doms ?? '[]') as string[];
      for (const domain of domains) pipeline.hgetall(this.host.keysOf(domain).batchCounts(id));
      return domains.length;
    });
    const replies = (await pipeline.exec()) ?? [];
    let at = 0;
    return batches.map(({ record }, i) => {
      const counts = emptyCounts(record);
      for (const [error, reply] of replies.slice(at, (at += domainsOf[i]!))) {
        if (error) throw error;
        addCounters(counts, reply as Record<string, string>);
      }
      return counts;
    });
  }
}

/** A batch's counts before its per-domain counters are added: only the total. */
export function emptyCounts(record: BatchRecord): BatchCounts {
  return {
    total: Number(record.total ?? 0),
    pending: 0,
    inProgress: 0,
    completed: 0,
    cancelled: 0,
    troubleshooting: 0,
    failed: 0,
  };
}

/** Adds one domain's counters of a batch (`bc:<batch>`: state -> n, `failed` -> n). */
export function addCounters(counts: BatchCounts, counters: Record<string, string>): void {
  for (const [field, n] of Object.entries(counters)) {
    const name = COUNT_FIELDS.get(field);
    if (name) counts[name] += Number(n);
  }
}

export function toBatchInfo(id: string, record: BatchRecord, counts: BatchCounts): BatchInfo {
  return {
    id,
    name: record.n ?? null,
    status: batchStatus(counts, record.st === 'finished'),
    counts,
    createdAt: new Date(Number(record.c ?? 0)),
    finishedAt: record.f ? new Date(Number(record.f)) : null,
    completionCommandId: record.cc ?? null,
  };
}
