import { batchCompletionCommand } from '../../core/records.js';
import { allFinished } from '../../core/lifecycle.js';
import { batchStatus } from '../batch-status.js';
import type { NewCommand } from '../../core/command.js';
import type { SqlDriver } from './driver.js';
import type {
  BatchCounts,
  BatchInfo,
  BatchStatus,
  CreateBatchParams,
  NewBatch,
  Queryable,
} from '../backend.js';

interface BatchRow {
  id: string;
  name: string | null;
  total: number;
  on_complete: NewBatch['onComplete'];
  created_at: Date;
  finished_at: Date | null;
  status: BatchStatus | null;
  completion_command_id: string | null;
  final_counts: BatchCounts | null;
  cancelled: number;
}

/**
 * Named, not `*`: statements are prepared once per connection, and a prepared `SELECT *`
 * fails ("cached plan must not change result type") once a migration adds a column.
 */
const BATCH_COLUMNS = `id, name, total, on_complete, created_at, finished_at, status,
  completion_command_id, final_counts, cancelled`;

interface CountRow {
  pending: number | string;
  in_progress: number | string;
  troubleshooting: number | string;
  failed: number | string;
}

/**
 * Batch progress is derived on read from the commands themselves instead of counters on
 * the batch row: a completion never touches the batch row, so a 1,000,000-command batch
 * does not make every worker queue on one lock.
 *
 * Nor does a claim or a completion touch a batch index. Every update of a command writes
 * a new entry in each of its indexes (the state is in index predicates, so no update is
 * HOT), and an index of every batch command cost each of them two entries on its way
 * through: a batch drained 30% slower than as many commands on their own (measured on the
 * embedded store). The batch index (migration 4) holds only the states a command waits or
 * stops in: pending, troubleshooting, cancelled. Running commands are found through the
 * lease index, which holds only what runs now; completed ones are the total less the rest.
 *
 * Cancelled ones are counted on the batch row, by the cancel (an operator's or the
 * application's, the only way a command is cancelled, and rare): retention prunes
 * cancelled commands, and counted from the table a pruned one would become `completed`.
 * The counts are live before and after the finish (see batchStatus); the row also keeps
 * those of the finish (final_counts, what the completion command carried).
 */
export class BatchStore {
  private readonly t: string;
  /** Open batches with no pending command: the candidates to finish. */
  readonly withoutPending: string;
  /** withoutPending among the batches $1. */
  readonly withoutPendingAmong: string;
  /** Which of the batches $1 have a command running. */
  readonly running: string;
  /** The counts of batch $1 but completed (total less the rest) and cancelled (its row). */
  readonly counts: string;
  /** A page of batches newest first ($1 of them, older than $2 when not null), with counts. */
  readonly page: string;
  /**
   * Deletes the batches finished more than $1 ms ago, but those with a member an operator
   * has not settled yet (in troubleshooting, or retried and not done): they stay, as
   * that member does.
   */
  readonly prune: string;

  constructor(schema: string) {
    const t = (this.t = `"${schema}"`);
    // The probe for a pending command reads the batch's index entries backwards, from the
    // newest: claims take the oldest first, so during a drain the newest is still pending
    // and the first entry answers. Read forwards, each probe stepped over every entry
    // claimed so far. An equality on batch_id would leave the planner no order to keep (it
    // scans forwards, and NOT EXISTS drops ORDER BY), hence the closed range.
    const withoutPending = (among: string) => `
SELECT b.id FROM ${t}.batches b
WHERE b.finished_at IS NULL ${among}
  AND (SELECT 1 FROM ${t}.commands c
       WHERE c.batch_id <= b.id AND c.batch_id >= b.id AND c.state = 'pending'
       ORDER BY c.batch_id DESC LIMIT 1) IS NULL
LIMIT 100`;
    this.withoutPending = withoutPending('');
    this.withoutPendingAmong = withoutPending('AND b.id = ANY($1::uuid[])');
    this.running = `
SELECT DISTINCT c.batch_id AS id FROM ${t}.commands c
WHERE c.state = 'in_progress' AND c.batch_id = ANY($1::uuid[])`;
    const counted = (batchId: string, lateral = '') => `
     ${lateral}(SELECT count(*) FILTER (WHERE state = 'pending') AS pending,
             count(*) FILTER (WHERE state = 'troubleshooting') AS troubleshooting,
             count(*) FILTER (WHERE last_error IS NOT NULL) AS failed
      FROM ${t}.commands
      WHERE batch_id = ${batchId} AND state IN ('pending', 'troubleshooting')) w,
     ${lateral}(SELECT count(*) AS in_progress, count(*) FILTER (WHERE last_error IS NOT NULL) AS failed
      FROM ${t}.commands WHERE state = 'in_progress' AND batch_id = ${batchId}) r`;
    const countColumns =
      'w.pending, w.troubleshooting, r.in_progress, w.failed + r.failed AS failed';
    this.counts = `SELECT ${countColumns} FROM ${counted('$1')}`;
    // One statement for a page: each batch's counts by the same index reads as getBatch's.
    this.page = `
SELECT b.*, ${countColumns}
FROM (SELECT ${BATCH_COLUMNS} FROM ${t}.batches
      WHERE $2::uuid IS NULL OR id < $2::uuid ORDER BY id DESC LIMIT $1) b,
${counted('b.id', 'LATERAL ')}
ORDER BY b.id DESC`;
    this.prune = `
DELETE FROM ${t}.batches b
WHERE b.finished_at < now() - $1 * interval '1 millisecond'
  AND NOT EXISTS (SELECT 1 FROM ${t}.commands c
                  WHERE c.batch_id = b.id AND c.state IN ('pending', 'troubleshooting'))
  AND NOT EXISTS (SELECT 1 FROM ${t}.commands c
                  WHERE c.state = 'in_progress' AND c.batch_id = b.id)`;
  }

  async create(
    tx: Queryable,
    params: CreateBatchParams,
    insertChunk: (commands: NewCommand[]) => Promise<number>,
  ): Promise<number> {
    await tx.query(
      `INSERT INTO ${this.t}.batches (id, name, total, on_complete) VALUES ($1, $2, 0, $3)`,
      [
        params.batch.id,
        params.batch.name,
        params.batch.onComplete === null ? null : JSON.stringify(params.batch.onComplete),
      ],
    );
    let total = 0;
    // The range of the batch's ids, for listing its commands (migration 11).
    let first: string | null = null;
    let last: string | null = null;
    for await (const chunk of params.chunks) {
      for (const command of chunk) {
        const id = command.id.toLowerCase(); // a caller's id may be upper case
        if (first === null || id < first) first = id;
        if (last === null || id > last) last = id;
      }
      total += await insertChunk(chunk);
    }
    await tx.query(
      `UPDATE ${this.t}.batches SET total = $2, first_command_id = $3, last_command_id = $4
       WHERE id = $1`,
      [params.batch.id, total, first, last],
    );
    return total;
  }

  async get(db: Queryable, id: string): Promise<BatchInfo | null> {
    const found = await db.query<BatchRow>(
      `SELECT ${BATCH_COLUMNS} FROM ${this.t}.batches WHERE id = $1`,
      [id],
    );
    const row = found.rows[0];
    if (!row) return null;
    return toBatchInfo(row, await this.countsOf(db, row));
  }

  /** Batches newest first (ids are UUIDv7): at most `limit`, older than `afterId`. */
  async list(
    db: Queryable,
    params: { limit: number; afterId?: string | undefined },
  ): Promise<BatchInfo[]> {
    const found = await db.query<BatchRow & CountRow>(this.page, [
      params.limit,
      params.afterId ?? null,
    ]);
    return found.rows.map((row) => toBatchInfo(row, countsFrom(row, row)));
  }

  private async countsOf(db: Queryable, batch: BatchRow): Promise<BatchCounts> {
    return countsFrom(batch, (await db.query<CountRow>(this.counts, [batch.id])).rows[0]!);
  }

  /**
   * Open batches among `ids` (or all) with no pending or in-progress command left: none in
   * an active state (core/lifecycle.ts), which the probes name one by one, each by its own
   * index. A new active state needs a probe here (test/unit/lifecycle.test.ts trips on it);
   * finish() then checks the counts with allFinished, from the table.
   */
  async ready(driver: SqlDriver, ids: string[] | undefined): Promise<string[]> {
    return driver.transaction(async (tx) => {
      await tx.query(BatchStore.PROBE_SETTINGS);
      const candidates = ids
        ? await tx.query<{ id: string }>(this.withoutPendingAmong, [ids])
        : await tx.query<{ id: string }>(this.withoutPending);
      if (candidates.rows.length === 0) return [];
      // Running commands are looked for only once a batch has no pending one left, which
      // during a drain is almost never.
      const found = candidates.rows.map((r) => r.id);
      const busy = await tx.query<{ id: string }>(this.running, [found]);
      const running = new Set(busy.rows.map((r) => r.id));
      return found.filter((id) => !running.has(id));
    });
  }

  /**
   * For the probes of ready(): index lookups only. Statistics taken while a batch was
   * queued say every one of its commands is pending, and with them the planner reads the
   * whole table (or the whole pending index) to find one, 25 ms on 100,000 commands, and
   * a worker checks several times a second. The index probe stops at the first pending
   * entry and marks the dead ones it stepped over, so the next probe skips them (0.3 ms).
   */
  static readonly PROBE_SETTINGS = `SELECT set_config('enable_seqscan', 'off', true),
  set_config('enable_bitmapscan', 'off', true), set_config('enable_hashjoin', 'off', true),
  set_config('enable_mergejoin', 'off', true)`;

  /**
   * Finishes one batch in the caller's transaction, once: the conditional update makes a
   * second worker's attempt a no-op, and the completion command is inserted in the same
   * transaction, so the notification is never lost nor sent twice.
   */
  async finish(
    tx: Queryable,
    id: string,
    insertCompletion: (tx: Queryable, command: NewCommand) => Promise<void>,
  ): Promise<BatchInfo | null> {
    const locked = await tx.query<BatchRow>(
      `SELECT ${BATCH_COLUMNS} FROM ${this.t}.batches WHERE id = $1 AND finished_at IS NULL FOR UPDATE`,
      [id],
    );
    const row = locked.rows[0];
    if (!row) return null;
    const counts = await this.countsOf(tx, row);
    if (!allFinished(counts)) return null;
    const status = batchStatus(counts, true);
    const completion = row.on_complete
      ? batchCompletionCommand(id, row.on_complete, { status, counts })
      : null;
    const completionId = completion?.id ?? null;
    const updated = await tx.query<BatchRow>(
      `UPDATE ${this.t}.batches
       SET finished_at = now(), status = $2, completion_command_id = $3, final_counts = $4
       WHERE id = $1 RETURNING ${BATCH_COLUMNS}`,
      [id, status, completionId, JSON.stringify(counts)],
    );
    if (completion) await insertCompletion(tx, completion);
    return toBatchInfo(updated.rows[0]!, counts);
  }
}

/** The counts of a batch from its row and the counts of its commands still indexed. */
function countsFrom(batch: BatchRow, row: CountRow): BatchCounts {
  const { total, cancelled } = batch;
  const pending = Number(row.pending);
  const inProgress = Number(row.in_progress);
  const troubleshooting = Number(row.troubleshooting);
  return {
    total,
    pending,
    inProgress,
    completed: total - pending - inProgress - troubleshooting - cancelled,
    cancelled,
    troubleshooting,
    failed: Number(row.failed),
  };
}

function toBatchInfo(row: BatchRow, counts: BatchCounts): BatchInfo {
  return {
    id: row.id,
    name: row.name,
    status: batchStatus(counts, row.finished_at !== null),
    counts,
    createdAt: row.created_at,
    finishedAt: row.finished_at,
    completionCommandId: row.completion_command_id,
  };
}
