import { TERMINAL_STATES } from '../../core/lifecycle.js';
import type { PruneParams } from '../backend.js';
import type { SqlAdminQueries } from './admin.js';
import type { BatchStore } from './batches.js';
import { countDeleted } from './counts.js';
import type { SqlDriver } from './driver.js';
import type { SqlDedupStore } from './dedup.js';
import type { LimitStore } from './limits.js';
import type { SqlSampleStore } from './samples.js';

/** The other stores whose leftovers a prune deletes. */
export interface PrunedStores {
  admin: SqlAdminQueries;
  batches: BatchStore;
  limits: LimitStore;
  samples: SqlSampleStore;
  dedup: SqlDedupStore;
}

/** Retention deletes commands in a terminal state: nothing moves them again. */
const PRUNABLE = TERMINAL_STATES.map((s) => `'${s}'`).join(', ');

/** Dead rows in the commands table worth a VACUUM (see tidy). */
const TIDY_MIN_DEAD = 20_000;
/** Rows folded out of command_counts worth a VACUUM of it (see tidy). */
const TIDY_MIN_FOLDED = 20_000;

/** Retention and VACUUM for the SQL stores (MaintenanceStore's prune and tidy). */
export class SqlHousekeeping {
  /** Rows this process changed in the commands table since its last VACUUM (see tidy). */
  churn = 0;
  /** Rows this process folded out of command_counts since its last VACUUM (see tidy). */
  private folded = 0;

  constructor(
    private readonly driver: SqlDriver,
    private readonly schema: string,
    private readonly stores: PrunedStores,
  ) {}

  async prune(params: PruneParams): Promise<number> {
    const t = `"${this.schema}"`;
    const result = await this.driver.query<{ n: number | string }>(
      `WITH gone AS (
         DELETE FROM ${t}.commands WHERE id IN (
           SELECT id FROM ${t}.commands
           WHERE state IN (${PRUNABLE}) AND updated_at < now() - $1 * interval '1 millisecond'
           LIMIT $2)
         RETURNING id, domain, type, state
       ), ${countDeleted(t, 'gone')}, audit AS (
         DELETE FROM ${t}.audit WHERE command_id IN (SELECT id FROM gone)
       )
       SELECT count(*) AS n FROM gone`,
      [params.olderThanMs, params.limit],
    );
    await this.driver.query(this.stores.batches.prune, [params.olderThanMs]);
    await this.stores.limits.prune();
    // a week of samples, whatever the commands' retention: the console charts a day at most
    await this.driver.query(this.stores.samples.prune);
    // stream consumers purge their expired ids as they write; this is for those gone quiet
    await this.driver.query(this.stores.dedup.purge, [params.limit]);
    return Number(result.rows[0]?.n ?? 0);
  }

  /**
   * A claim scans the pending index from its oldest end, where every claimed command
   * leaves a dead entry until VACUUM removes it. Autovacuum looks at a table once a minute
   * at best, and a worker draining 10,000 commands a second leaves 20,000 dead rows a
   * second: measured, the claim went from 1 ms to 20 ms in 60 s (2,700 buffers for 128
   * rows) and throughput fell by two thirds. So maintenance vacuums the table itself once
   * this process has left enough dead rows behind (counted here rather than asked of the
   * statistics collector, which PGlite does not have; a VACUUM on the one PGlite
   * connection blocks everything else, so it must not run when there is little to gain).
   * SKIP_LOCKED: when another worker is already vacuuming, there is nothing to add.
   *
   * It also folds the rows appended to the command counts since the last fold (counts.ts),
   * so that a read of the counts sums about one row per count, and vacuums that small
   * table once enough rows have gone (PGlite has no autovacuum).
   */
  async tidy(): Promise<void> {
    this.folded += await this.stores.admin.foldCounts();
    if (this.folded >= TIDY_MIN_FOLDED) {
      this.folded = 0;
      await this.driver.query(`VACUUM (SKIP_LOCKED) "${this.schema}".command_counts`);
    }
    if (this.churn < TIDY_MIN_DEAD) return;
    this.churn = 0;
    await this.driver.query(`VACUUM (SKIP_LOCKED) "${this.schema}".commands`);
  }
}
