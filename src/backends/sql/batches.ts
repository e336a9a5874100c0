import { batchCompletionCommand } from '../../core/records.js';
import type { NewCommand } from '../../core/command.js';
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
}

interface CountRow {
  pending: number | string;
  in_progress: number | string;
  completed: number | string;
  cancelled: number | string;
  troubleshooting: number | string;
  failed: number | string;
}

/**
 * Batch progress is derived on read from the commands themselves (an index on
 * (batch_id, state)) instead of counters on the batch row: a completion never touches the
 * batch row, so a 1,000,000-command batch does not make every worker queue on one lock.
 */
export class BatchStore {
  private readonly t: string;
  constructor(schema: string) {
    this.t = `"${schema}"`;
  }

  async create(
    tx: Queryable,
    params: CreateBatchParams,
    insertChunk: (tx: Queryable, commands: NewCommand[]) => Promise<number>,
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
    for await (const chunk of params.chunks) total += await insertChunk(tx, chunk);
    await tx.query(`UPDATE ${this.t}.batches SET total = $2 WHERE id = $1`, [
      params.batch.id,
      total,
    ]);
    return total;
  }

  async get(db: Queryable, id: string): Promise<BatchInfo | null> {
    const found = await db.query<BatchRow>(`SELECT * FROM ${this.t}.batches WHERE id = $1`, [id]);
    const row = found.rows[0];
    return row ? toBatchInfo(row, await this.counts(db, id, row.total)) : null;
  }

  private async counts(db: Queryable, id: string, total: number): Promise<BatchCounts> {
    const result = await db.query<CountRow>(
      `SELECT count(*) FILTER (WHERE state = 'pending') AS pending,
              count(*) FILTER (WHERE state = 'in_progress') AS in_progress,
              count(*) FILTER (WHERE state = 'completed') AS completed,
              count(*) FILTER (WHERE state = 'cancelled') AS cancelled,
              count(*) FILTER (WHERE state = 'troubleshooting') AS troubleshooting,
              count(*) FILTER (WHERE last_error IS NOT NULL
                               AND state IN ('pending', 'in_progress', 'troubleshooting')) AS failed
       FROM ${this.t}.commands WHERE batch_id = $1`,
      [id],
    );
    const row = result.rows[0]!;
    return {
      total,
      pending: Number(row.pending),
      inProgress: Number(row.in_progress),
      completed: Number(row.completed),
      cancelled: Number(row.cancelled),
      troubleshooting: Number(row.troubleshooting),
      failed: Number(row.failed),
    };
  }

  /** Open batches among `ids` (or all) with no pending or in-progress command left. */
  async ready(db: Queryable, ids: string[] | undefined): Promise<string[]> {
    const result = await db.query<{ id: string }>(
      `SELECT b.id FROM ${this.t}.batches b
       WHERE b.finished_at IS NULL ${ids ? 'AND b.id = ANY($1::uuid[])' : ''}
         AND NOT EXISTS (SELECT 1 FROM ${this.t}.commands c
                         WHERE c.batch_id = b.id AND c.state IN ('pending', 'in_progress'))
       LIMIT 100`,
      ids ? [ids] : [],
    );
    return result.rows.map((r) => r.id);
  }

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
      `SELECT * FROM ${this.t}.batches WHERE id = $1 AND finished_at IS NULL FOR UPDATE`,
      [id],
    );
    const row = locked.rows[0];
    if (!row) return null;
    const counts = await this.counts(tx, id, row.total);
    if (counts.pending + counts.inProgress > 0) return null;
    const status: BatchStatus =
      counts.completed === counts.total ? 'completed' : 'completed_with_failures';
    const completion = row.on_complete
      ? batchCompletionCommand(id, row.on_complete, { status, counts })
      : null;
    const completionId = completion?.id ?? null;
    const updated = await tx.query<BatchRow>(
      `UPDATE ${this.t}.batches SET finished_at = now(), status = $2, completion_command_id = $3
       WHERE id = $1 RETURNING *`,
      [id, status, completionId],
    );
    if (completion) await insertCompletion(tx, completion);
    return toBatchInfo(updated.rows[0]!, counts);
  }
}

function toBatchInfo(row: BatchRow, counts: BatchCounts): BatchInfo {
  const started =
    counts.inProgress + counts.completed + counts.cancelled + counts.troubleshooting > 0;
  const status: BatchStatus = row.status ?? (started ? 'in_progress' : 'pending');
  return {
    id: row.id,
    name: row.name,
    status,
    counts,
    createdAt: row.created_at,
    finishedAt: row.finished_at,
    completionCommandId: row.completion_command_id,
  };
}
