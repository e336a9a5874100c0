import type { Command, CommandError } from '../../core/command.js';
import { COMMAND_STATES, type CommandState } from '../../core/states.js';
import type {
  AdminQueries,
  CommandCount,
  ListCommandsParams,
  OldestPending,
  Queryable,
  TroubleshootingError,
  TroubleshootingErrorsParams,
} from '../backend.js';
import { listCommandsStatement } from './list-commands.js';
import { recountSql } from './migrations/010_command_counts.js';
import { oldestPendingSql } from './oldest-pending.js';
import { toCommand, type CommandRow } from './rows.js';

/**
 * Rows of command_counts beyond one per count that a read folds itself, when no worker's
 * maintenance has (an application that only sends appends a row per send). Reading this
 * many costs about a millisecond; folding them, a few.
 */
const FOLD_ON_READ_AT = 10_000;

/**
 * The statement that folds the rows of each count in command_counts (migration 10) into one
 * and drops the counts that are zero. It takes only the counts with something to fold, and
 * puts back the sum of exactly the rows it deleted, so a fold running beside transitions
 * or another fold never changes a count: rows appended after its snapshot stay, and rows
 * another fold deleted first are not deleted again. It returns how many rows it removed.
 */
export function foldCountsSql(schema: string): string {
  const t = `"${schema}"`;
  return `
WITH folded AS (
  DELETE FROM ${t}.command_counts
  WHERE (domain, type, state) IN (
    SELECT domain, type, state FROM ${t}.command_counts
    GROUP BY domain, type, state HAVING count(*) > 1 OR sum(n) = 0)
  RETURNING domain, type, state, n
), kept AS (
  INSERT INTO ${t}.command_counts (domain, type, state, n)
  SELECT domain, type, state, sum(n) FROM folded
  GROUP BY domain, type, state HAVING sum(n) <> 0
)
SELECT count(*)::int AS removed FROM folded`;
}

export class SqlAdminQueries implements AdminQueries {
  private readonly t: string;
  private readonly fold: string;
  private readonly recount: string;
  private readonly oldestAll: string;
  private readonly oldestOne: string;
  constructor(
    private readonly db: Queryable,
    schema: string,
  ) {
    this.t = `"${schema}"`;
    this.fold = foldCountsSql(schema);
    this.recount = recountSql(this.t);
    this.oldestAll = oldestPendingSql(this.t, false);
    this.oldestOne = oldestPendingSql(this.t, true);
  }

  async listCommands(params: ListCommandsParams): Promise<Command[]> {
    const statement = listCommandsStatement(this.t, params);
    if (!statement) return [];
    const result = await this.db.query<CommandRow>(statement.text, statement.values);
    return result.rows.map(toCommand);
  }

  async listTroubleshootingErrors(
    params: TroubleshootingErrorsParams,
  ): Promise<TroubleshootingError[]> {
    // the same rows as listCommands' troubleshooting listing of a domain, through the
    // same (domain, state, id) index, reading four small columns instead of the whole row
    const values: unknown[] = [params.domain, params.limit];
    let where = `state = 'troubleshooting' AND domain = $1`;
    if (params.type !== undefined) where += ` AND type = $${values.push(params.type)}`;
    if (params.afterId !== undefined) where += ` AND id > $${values.push(params.afterId)}`;
    const result = await this.db.query<{
      id: string;
      domain: string;
      type: string;
      updated_at: Date;
      last_error: CommandError | null;
    }>(
      `SELECT id, domain, type, updated_at, last_error FROM ${this.t}.commands
       WHERE ${where} ORDER BY id LIMIT $2`,
      values,
    );
    return result.rows.map((r) => ({
      id: r.id,
      domain: r.domain,
      type: r.type,
      updatedAt: r.updated_at,
      lastError: r.last_error,
    }));
  }

  async countByState(params: { domain?: string }): Promise<Record<CommandState, number>> {
    const counts = Object.fromEntries(COMMAND_STATES.map((s) => [s, 0])) as Record<
      CommandState,
      number
    >;
    for (const c of await this.countCommands(params)) counts[c.state] += c.count;
    return counts;
  }

  async countCommands(params: { domain?: string | undefined }): Promise<CommandCount[]> {
    const result = await this.db.query<{
      domain: string;
      type: string;
      state: CommandState;
      n: number | string;
      rows: number;
    }>(
      `SELECT domain, type, state, sum(n) AS n, count(*)::int AS rows
       FROM ${this.t}.command_counts ${params.domain ? 'WHERE domain = $1' : ''}
       GROUP BY domain, type, state ORDER BY domain, type, state`,
      params.domain ? [params.domain] : [],
    );
    let unfolded = 0;
    const counts: CommandCount[] = [];
    for (const row of result.rows) {
      unfolded += row.rows - 1;
      const count = Number(row.n);
      if (count !== 0) counts.push({ domain: row.domain, type: row.type, state: row.state, count });
    }
    if (unfolded >= FOLD_ON_READ_AT) await this.foldCounts();
    return counts;
  }

  async oldestPending(params: { domain?: string | undefined } = {}): Promise<OldestPending[]> {
    const result = await this.db.query<{ domain: string; run_at: Date }>(
      params.domain ? this.oldestOne : this.oldestAll,
      params.domain ? [params.domain] : [],
    );
    return result.rows.map((r) => ({ domain: r.domain, runAt: r.run_at }));
  }

  /**
   * Folds each count's rows into one (see foldCountsSql); maintenance runs it (SqlBackend
   * tidy), and a read when it found many rows to sum. Resolves to the rows removed.
   */
  async foldCounts(): Promise<number> {
    const result = await this.db.query<{ removed: number }>(this.fold);
    return result.rows[0]?.removed ?? 0;
  }

  /**
   * Counts every command afresh (a scan of the table, writes held off while it runs):
   * a repair after processes of a version before the counts changed commands (see
   * migration 10).
   */
  async recountCommands(): Promise<void> {
    await this.db.query(this.recount);
  }
}
