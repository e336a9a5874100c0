import { batchCompletionCommand } from '../../core/records.js';
import {
  allFinished,
  COMMAND_STATES,
  countIn,
  countKeyOf,
  TERMINAL_STATES,
} from '../../core/lifecycle.js';
import { batchStatus } from '../batch-status.js';
import type { Redis } from 'ioredis';
import type { NewCommand } from '../../core/command.js';
import { StoreError } from '../../core/errors.js';
import type {
  BatchCounts,
  BatchInfo,
  CreateBatchParams,
  InsertCommandsParams,
  InsertedCommand,
  NewBatch,
} from '../backend.js';
import { isScriptError, scriptError, toStoreError } from './errors.js';
import type { DomainKeys, GlobalKeys } from './keys.js';
import { runScript } from './scripts/runner.js';

/** What the batch store needs of the backend. */
export interface BatchHost {
  readonly client: Redis;
  readonly keys: GlobalKeys;
  keysOf(domain: string): DomainKeys;
  stageCommands(
    batchId: string,
    commands: NewCommand[],
  ): Promise<{ domains: string[]; created: number }>;
  insertCommands(params: InsertCommandsParams): Promise<InsertedCommand[]>;
}

/** A batch left staging this long was abandoned by a crashed process and is rolled back. */
const ABANDONED_AFTER_MS = 60 * 60 * 1000;
const ACTIVATE_PER_CALL = 5000;
/** States a batch's retention waits out: a member in one may still move. */
const UNSETTLED_STATES = COMMAND_STATES.filter((s) => !TERMINAL_STATES.includes(s));
/** A batch's counter fields (each state's name, and `failed`) and the counts they add to. */
const COUNT_FIELDS: ReadonlyMap<string, keyof BatchCounts> = new Map<string, keyof BatchCounts>([
  ...COMMAND_STATES.map((s) => [s, countKeyOf(s)] as const),
  ['failed', 'failed'],
]);
/** Open batches one sweep looks at: the next ones in creation order, round the set. */
const SWEEP_SIZE = 100;

type BatchRecord = Partial<
  Record<'n' | 'oc' | 'c' | 'st' | 'total' | 'doms' | 'act' | 'f' | 'status' | 'cc', string>
>;

/**
 * Batches on Redis. A batch's commands may span domains (so hash slots), and a batch may
 * be far larger than one script should handle, so creation is stage-then-commit: chunks
 * are stored invisible ('staged'), one conditional write on the batch record commits,
 * then the staged commands are made claimable. A crash before the commit leaves nothing
 * visible (maintenance deletes the staged commands); after it, maintenance finishes the
 * activation. Progress is counted per (batch, domain) by the same scripts that move the
 * commands, so reading it never scans the batch and completing never contends on one key.
 */
export class RedisBatches {
  /** Where the next sweep of the open batches starts (a rank in the set). */
  private sweepFrom = 0;
  /** Whether the index of batch ids was checked for batches created before it. */
  private indexed = false;

  constructor(private readonly host: BatchHost) {}

  private get client(): Redis {
    return this.host.client;
  }

  async create(params: CreateBatchParams): Promise<BatchInfo> {
    const { id } = params.batch;
    const key = this.host.keys.batch(id);
    const began = await runScript(
      this.client,
      'batchBegin',
      [key],
      [
        params.batch.name ?? '',
        params.batch.onComplete ? JSON.stringify(params.batch.onComplete) : '',
      ],
    ).catch((error: unknown) => {
      throw toStoreError(error, `creating batch ${id}`);
    });
    if (isScriptError(began)) throw scriptError(began, { id });
    await this.client.zadd(this.host.keys.stagingBatches, began as number, id);

    const domains = new Set<string>();
    let total = 0;
    // One chunk is staged while the next is made and encoded: Redis runs a chunk's script
    // while this process prepares the next, instead of each waiting on the other.
    let staging: Promise<void> = Promise.resolve();
    try {
      for await (const chunk of params.chunks) {
        if (chunk.length === 0) continue;
        const before = domains.size;
        for (const c of chunk) domains.add(c.domain);
        // Written before staging, so a rollback after a crash knows where to look.
        if (domains.size > before)
          await this.client.hset(key, 'doms', JSON.stringify([...domains]));
        const next = this.host.stageCommands(id, chunk).then((r) => {
          total += r.created;
        });
        next.catch(() => {}); // awaited on the next turn, after the chunk before it
        const previous = staging;
        staging = next;
        await previous;
      }
      await staging;
    } catch (error) {
      await staging.catch(() => {}); // nothing of this batch may still be on its way
      await this.rollback(id, [...domains]).catch(() => {
        // left for maintenance, which rolls back abandoned batches
      });
      throw toStoreError(error, `creating batch ${id}`);
    }
    try {
      const committed = await runScript(
        this.client,
        'batchCommit',
        [key],
        [total, JSON.stringify([...domains])],
      );
      if (committed !== 1)
        throw new StoreError(
          `batch ${id} was rolled back while it was being created; create it again`,
        );
      await this.client
        .multi()
        .zadd(this.host.keys.openBatches, began as number, id)
        .zadd(this.host.keys.batchIds, 0, id)
        .zrem(this.host.keys.stagingBatches, id)
        .exec();
      await this.activate(id, [...domains]);
    } catch (error) {
      throw toStoreError(error, `committing batch ${id}`);
    }
    return (await this.get(id))!;
  }

  /** Makes every staged command of a committed batch claimable; safe to repeat. */
  private async activate(id: string, domains: string[]): Promise<void> {
    for (const domain of domains) {
      const k = this.host.keysOf(domain);
      for (;;) {
        const n = await runScript(
          this.client,
          'activate',
          [k.ids, k.counts, k.staged(id), k.stream],
          [k.base, ACTIVATE_PER_CALL],
        );
        if (n === 0) break;
      }
    }
    await this.client.hset(this.host.keys.batch(id), 'act', '1');
  }

  private async rollback(id: string, domains: string[]): Promise<void> {
    for (const domain of domains) {
      const k = this.host.keysOf(domain);
      while (
        (await runScript(
          this.client,
          'unstage',
          [k.idem, k.staged(id)],
          [k.base, ACTIVATE_PER_CALL],
        )) !== 0
      );
    }
    await this.client
      .multi()
      .del(this.host.keys.batch(id))
      .zrem(this.host.keys.stagingBatches, id)
      .exec();
  }

  async get(id: string): Promise<BatchInfo | null> {
    try {
      const record = (await this.client.hgetall(this.host.keys.batch(id))) as BatchRecord;
      if (!record.st || record.st === 'staging') return null;
      return toBatchInfo(id, record, await this.counts(id, record));
    } catch (error) {
      throw toStoreError(error, `reading batch ${id}`);
    }
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

  private async counts(id: string, record: BatchRecord): Promise<BatchCounts> {
    const counts = emptyCounts(record);
    const domains = JSON.parse(record.doms ?? '[]') as string[];
    if (domains.length === 0) return counts;
    const pipeline = this.client.pipeline();
    for (const domain of domains) pipeline.hgetall(this.host.keysOf(domain).batchCounts(id));
    for (const [error, reply] of (await pipeline.exec()) ?? []) {
      if (error) throw error;
      addCounters(counts, reply as Record<string, string>);
    }
    return counts;
  }

  /**
   * Finishes every batch (or the ones named) whose commands are all done, once. The
   * completion command is sent first, under the idempotency key `batch-completed:<id>`, and
   * only then is the batch marked finished: a crash in between, or another worker finishing
   * the same batch at the same time, sends it again, which the key turns into a no-op, so
   * it is sent exactly once and never lost.
   *
   * Without ids, a sweep for batches whose last settle's finish was lost (a worker died in
   * between): it looks at the next SWEEP_SIZE open batches after the last sweep's, so a
   * ready batch behind any number of long-running ones is found within
   * ceil(open / SWEEP_SIZE) + 1 sweeps (a sweep every 5 s per worker).
   */
  async finish(ids: string[] | undefined): Promise<BatchInfo[]> {
    const finished: BatchInfo[] = [];
    try {
      if (!ids) await this.recoverAbandoned();
      const candidates = ids ?? (await this.nextToSweep());
      for (const id of candidates) {
        const info = await this.finishOne(id);
        if (info) finished.push(info);
      }
      // The batches finished here left the set, so the next unseen one moved down as many
      // ranks; a short page was the end of the set, and the next sweep starts over.
      if (!ids)
        this.sweepFrom =
          candidates.length < SWEEP_SIZE ? 0 : this.sweepFrom + SWEEP_SIZE - finished.length;
    } catch (error) {
      throw toStoreError(error, 'finishing batches');
    }
    return finished;
  }

  private async nextToSweep(): Promise<string[]> {
    const open = this.host.keys.openBatches;
    const from = this.sweepFrom;
    const ids = await this.client.zrange(open, String(from), String(from + SWEEP_SIZE - 1));
    if (ids.length > 0 || from === 0) return ids;
    this.sweepFrom = 0;
    return this.client.zrange(open, '0', String(SWEEP_SIZE - 1));
  }

  private async finishOne(id: string): Promise<BatchInfo | null> {
    const key = this.host.keys.batch(id);
    const record = (await this.client.hgetall(key)) as BatchRecord;
    if (record.st === 'finished') {
      // A crash after batchFinish can leave it in the open set, where sweeps would keep
      // looking at it and retention would never find it.
      await this.indexFinished(id, Number(record.f ?? 0));
      return null;
    }
    if (record.st !== 'open') return null;
    if (record.act !== '1') await this.activate(id, JSON.parse(record.doms ?? '[]') as string[]);
    const counts = await this.counts(id, record);
    if (!allFinished(counts)) return null;
    const status = batchStatus(counts, true);
    let completionId = '';
    if (record.oc) {
      const onComplete = JSON.parse(record.oc) as NonNullable<NewBatch['onComplete']>;
      const [sent] = await this.host.insertCommands({
        commands: [batchCompletionCommand(id, onComplete, { status, counts })],
      });
      completionId = sent!.command.id;
    }
    const finishedAt = (await runScript(
      this.client,
      'batchFinish',
      [key],
      [status, completionId],
    )) as number;
    if (finishedAt === 0) return null;
    await this.indexFinished(id, finishedAt);
    return toBatchInfo(
      id,
      { ...record, st: 'finished', status, f: String(finishedAt), cc: completionId || undefined },
      counts,
    );
  }

  /** Moves a finished batch from the open set to the finished one (by finish time, for retention). */
  private async indexFinished(id: string, finishedAt: number): Promise<void> {
    await this.client
      .multi()
      .zrem(this.host.keys.openBatches, id)
      .zadd(this.host.keys.finishedBatches, finishedAt, id)
      .exec();
  }

  /** Batches whose creator died: before the commit they are rolled back, after it rolled forward. */
  private async recoverAbandoned(): Promise<void> {
    const staging = this.host.keys.stagingBatches;
    const stale = await this.client.zrangebyscore(
      staging,
      '-inf',
      Date.now() - ABANDONED_AFTER_MS,
      'LIMIT',
      0,
      10,
    );
    for (const id of stale) {
      const record = (await this.client.hgetall(this.host.keys.batch(id))) as BatchRecord;
      if (record.st === 'staging')
        await this.rollback(id, JSON.parse(record.doms ?? '[]') as string[]);
      else if (record.st === 'open') {
        await this.client
          .multi()
          .zadd(this.host.keys.openBatches, record.c ?? '0', id)
          .zadd(this.host.keys.batchIds, 0, id)
          .zrem(staging, id)
          .exec();
      } else await this.client.zrem(staging, id);
    }
  }

  /**
   * Deletes finished batches older than the retention, with their counters. One whose
   * member an operator has not settled yet (in troubleshooting, or retried and not done)
   * stays, as that member does: it is looked at again a retention later.
   */
  async prune(olderThanMs: number): Promise<void> {
    const [seconds, micros] = await this.client.time();
    const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    const old = await this.client.zrangebyscore(
      this.host.keys.finishedBatches,
      '-inf',
      `(${now - olderThanMs}`,
      'LIMIT',
      0,
      1000,
    );
    for (const id of old) {
      const key = this.host.keys.batch(id);
      const record = (await this.client.hgetall(key)) as BatchRecord;
      const counts = await this.counts(id, record);
      if (countIn(counts, UNSETTLED_STATES) > 0) {
        await this.client.zadd(this.host.keys.finishedBatches, now, id);
        continue;
      }
      const domains = JSON.parse(record.doms ?? '[]') as string[];
      const pipeline = this.client.pipeline().del(key);
      for (const domain of domains) pipeline.del(this.host.keysOf(domain).batchCounts(id));
      pipeline.zrem(this.host.keys.finishedBatches, id);
      pipeline.zrem(this.host.keys.batchIds, id);
      await pipeline.exec();
    }
  }
}

/** A batch's counts before its per-domain counters are added: only the total. */
function emptyCounts(record: BatchRecord): BatchCounts {
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
function addCounters(counts: BatchCounts, counters: Record<string, string>): void {
  for (const [field, n] of Object.entries(counters)) {
    const name = COUNT_FIELDS.get(field);
    if (name) counts[name] += Number(n);
  }
}

function toBatchInfo(id: string, record: BatchRecord, counts: BatchCounts): BatchInfo {
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
