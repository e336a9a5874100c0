import type {
  AuditRecord,
  ClaimedCommand,
  Command,
  JsonValue,
  NewCommand,
} from '../../core/command.js';
import { pendingCommand, sentRecord, toAuditRecords, type AuditRow } from '../../core/records.js';
import { StoreError } from '../../core/errors.js';
import { isFinishedForBatch, type CommandState } from '../../core/lifecycle.js';
import { DEFAULT_RETRY_POLICY } from '../../core/retry.js';
import { checkBatchCursor } from '../batch-status.js';
import type {
  AcquireSlotParams,
  Backend,
  BackendCapabilities,
  BatchInfo,
  ClaimParams,
  CreateBatchParams,
  InsertCommandsParams,
  InsertedCommand,
  Lease,
  OperateParams,
  PoolStats,
  PruneParams,
  Queryable,
  ReleaseSlotParams,
  RenewLeasesParams,
  SettleParams,
  SettleResult,
  TakeTokenParams,
  TakeTokenResult,
  WakeListener,
} from '../backend.js';
import { SqlAdminQueries } from './admin.js';
import { SqlDedupStore } from './dedup.js';
import { SqlHousekeeping } from './housekeeping.js';
import { commandsJson, oneFreshParams } from './insert-rows.js';
import { BatchStore } from './batches.js';
import { createBatch, finishBatches, type BatchWriteContext } from './batch-writes.js';
import { allFresh, copyable, copyText } from './copy.js';
import { CopyTally } from './counts.js';
import type { SqlDriver, SqlTransaction } from './driver.js';
import { LimitStore } from './limits.js';
import { checkSchema, migrate } from './migrator.js';
import { operate } from './operator.js';
import { SqlOutboxStore } from './outbox.js';
import { CommandQueries } from './queries.js';
import { SqlSampleStore } from './samples.js';
import { SqlWorkerRegistry } from './workers.js';
import { toClaimed, type ClaimedRow, toCommand, type CommandRow } from './rows.js';

/** A claim's handler policy when no type differs from the fallback (see ClaimParams). */
const NO_TYPES: string[] = [];
const NO_LIMITS: number[] = [];

/**
 * SQLSTATE classes of a value the store refuses: 22 data exception (out of range, bad
 * text or JSON), 23 integrity constraint violation, 54 program limit exceeded (a row or
 * an index entry too large). A connection failure has no SQLSTATE, or class 08 or 57.
 */
const REFUSAL_CLASSES = new Set(['22', '23', '54']);

/** Thrown inside completeInTransaction to roll back when the lease was lost. */
class StaleLease extends Error {}

/** The Backend for every PostgreSQL-speaking engine: PostgreSQL itself and PGlite. */
export class SqlBackend implements Backend {
  readonly kind: string;
  readonly capabilities: BackendCapabilities = {
    transactions: true,
    wakeups: true,
    claimBatchSize: 500,
    waitingClaims: false,
  };
  readonly admin: SqlAdminQueries;
  readonly workers: SqlWorkerRegistry;
  readonly samples: SqlSampleStore;
  readonly outbox: SqlOutboxStore;
  readonly dedup: SqlDedupStore;
  private readonly q: CommandQueries;
  private readonly channel: string;
  private readonly housekeeping: SqlHousekeeping;
  private readonly batches: BatchStore;
  private readonly batchWrites: BatchWriteContext;
  private readonly limits: LimitStore;
  /** The pool's connections, on a driver with a pool (PostgreSQL); absent on PGlite. */
  readonly poolStats?: () => PoolStats;

  constructor(
    readonly driver: SqlDriver,
    readonly schema: string,
  ) {
    this.kind = driver.kind;
    this.channel = `dispatchbox_${schema}`;
    this.q = new CommandQueries(schema, this.channel);
    this.batches = new BatchStore(schema);
    this.batchWrites = { driver, q: this.q, batches: this.batches };
    this.admin = new SqlAdminQueries(driver, schema);
    this.workers = new SqlWorkerRegistry(driver, schema);
    this.limits = new LimitStore(driver, schema);
    this.samples = new SqlSampleStore(driver, schema);
    this.outbox = new SqlOutboxStore(driver, schema);
    this.dedup = new SqlDedupStore(driver, schema);
    this.housekeeping = new SqlHousekeeping(driver, schema, {
      admin: this.admin,
      batches: this.batches,
      limits: this.limits,
      samples: this.samples,
      dedup: this.dedup,
    });
    const poolStats = driver.poolStats?.bind(driver);
    if (poolStats) this.poolStats = poolStats;
  }

  async migrate(): Promise<void> {
    await migrate(this.driver, this.schema);
  }

  checkSchema(): Promise<void> {
    return checkSchema(this.driver, this.schema);
  }

  async insertCommands(params: InsertCommandsParams): Promise<InsertedCommand[]> {
    const db = params.tx ?? this.driver;
    type Inserted = { at: Date; missing: string[] | null };
    const inserted =
      !params.tx && copyable(params.commands)
        ? await this.driver.transaction(async (tx) => {
            await this.copyCommands(tx, params.commands);
            const copied = new CopyTally();
            copied.add(params.commands);
            return tx.query<Inserted>(this.q.afterCopy, [
              [...new Set(params.commands.map((c) => c.domain))],
              ...copied.params(),
            ]);
          })
        : await db.query<Inserted>(...this.insertStatement(params.commands));
    const { at, missing: missingIds } = inserted.rows[0]!;
    const created = (c: NewCommand): InsertedCommand => ({
      command: pendingCommand(c, at, c.runAt ?? new Date(at.getTime() + c.delayMs)),
      created: true,
    });
    if (missingIds === null) return params.commands.map(created);
    // Some ids or idempotency keys existed already, or an id came twice in this insert (a
    // command re-sent while its first send was on its way): return the stored command for
    // each. Of two rows with one id the statement stored one and skipped the other, and
    // both ids count as inserted, so every row of a repeated id is read back.
    const notInserted = new Set(missingIds);
    const seen = new Set<string>();
    const repeated = new Set<string>();
    for (const c of params.commands) {
      if (seen.has(c.id)) repeated.add(c.id);
      seen.add(c.id);
    }
    const missing = params.commands.filter((c) => notInserted.has(c.id) || repeated.has(c.id));
    const existing = await db.query<CommandRow>(this.q.findExisting, [
      [...new Set(missing.map((c) => c.id))],
      JSON.stringify(
        missing
          .filter((c) => c.idempotencyKey !== null)
          .map((c) => ({ domain: c.domain, key: c.idempotencyKey })),
      ),
    ]);
    const existingById = new Map(existing.rows.map((r) => [r.id, r]));
    const existingByKey = new Map(
      existing.rows.map((r) => [`${r.domain}\u0000${r.idempotency_key}`, r]),
    );
    return params.commands.map((c) => {
      const inserted = !notInserted.has(c.id);
      if (inserted && !repeated.has(c.id)) return created(c);
      const first = inserted
        ? existingById.get(c.id)
        : (existingById.get(c.id) ?? existingByKey.get(`${c.domain}\u0000${c.idempotencyKey}`));
      if (!first) throw new Error(`command ${c.id} was neither inserted nor found`);
      const wasCreated = inserted && seen.delete(c.id); // the first row of a repeated id
      return { command: toCommand(first), created: wasCreated };
    });
  }

  isRefusal(error: unknown): boolean {
    // the drivers wrap what the server said in a StoreError, as its cause
    const reason = error instanceof StoreError ? error.cause : error;
    const code = (reason as { code?: unknown } | null)?.code;
    return typeof code === 'string' && code.length === 5 && REFUSAL_CLASSES.has(code.slice(0, 2));
  }

  /** The INSERT for commands that do not go by COPY, and its parameters. */
  private insertStatement(commands: NewCommand[]): [string, unknown[]] {
    if (!allFresh(commands)) return [this.q.insert, [commandsJson(commands)]];
    if (commands.length === 1) return [this.q.insertOneFresh, oneFreshParams(commands[0]!)];
    return [this.q.insertFresh, [commandsJson(commands)]];
  }

  async claim(params: ClaimParams): Promise<ClaimedCommand[]> {
    const policy = params.handlerMaxAttempts;
    const args: unknown[] = [
      params.domain,
      params.limit,
      params.leaseToken,
      params.leaseMs,
      params.workerId,
      policy?.types ?? NO_TYPES,
      policy?.limits ?? NO_LIMITS,
      policy?.fallback ?? DEFAULT_RETRY_POLICY.maxAttempts,
    ];
    const sql = params.types ? this.q.claimTypes : this.q.claimAnyType;
    if (params.types) args.push(params.types);
    const claimedAt = new Date();
    const result = await this.driver.query<ClaimedRow>(sql, args);
    const leaseExpiresAt = new Date(claimedAt.getTime() + params.leaseMs);
    this.housekeeping.churn += result.rows.length;
    return result.rows.map((row) =>
      toClaimed(row, {
        claimedAt,
        leaseExpiresAt,
        leaseToken: params.leaseToken,
        workerId: params.workerId,
      }),
    );
  }

  async settle(params: SettleParams): Promise<SettleResult> {
    return this.applySettle(this.driver, params);
  }

  private async applySettle(db: Queryable, params: SettleParams): Promise<SettleResult> {
    if (params.settlements.every((s) => s.kind === 'complete' && s.resultJson === null)) {
      const ids = params.settlements.map((s) => s.id);
      const tokens = params.settlements.map((s) => s.leaseToken);
      const attempts = params.settlements.map((s) => s.attempt);
      const completed = await db.query<{ id: string; batch_id: string | null }>(
        this.q.settleCompleted,
        [ids, tokens, attempts, params.workerId],
      );
      return this.settled(params, completed.rows);
    }
    const rows = params.settlements.map((s) => ({
      id: s.id,
      token: s.leaseToken,
      attempt: s.attempt,
      kind: s.kind,
      result:
        s.kind === 'complete' && s.resultJson !== null
          ? (JSON.parse(s.resultJson) as JsonValue)
          : null,
      error: s.kind === 'retry' || s.kind === 'troubleshoot' ? s.error : null,
      delay_ms: s.kind === 'retry' || s.kind === 'release' ? s.delayMs : 0,
      reason: s.kind === 'release' ? s.reason : null,
    }));
    const result = await db.query<{ id: string; state: CommandState; batch_id: string | null }>(
      this.q.settle,
      [JSON.stringify(rows), params.workerId],
    );
    return this.settled(params, result.rows);
  }

  private settled(
    params: SettleParams,
    /** Without a state: settleCompleted's rows, all completed. */
    rows: { id: string; state?: CommandState; batch_id: string | null }[],
  ): SettleResult {
    const applied = new Set(rows.map((r) => r.id));
    this.housekeeping.churn += applied.size;
    const touched = new Set<string>();
    for (const r of rows)
      if (r.batch_id && (r.state === undefined || isFinishedForBatch(r.state)))
        touched.add(r.batch_id);
    return {
      applied: [...applied],
      stale: params.settlements.filter((s) => !applied.has(s.id)).map((s) => s.id),
      touchedBatchIds: [...touched],
    };
  }

  async completeInTransaction(
    lease: Lease & { workerId: string; attempt: number },
    fn: (tx: Queryable) => Promise<string | null>,
    signal?: AbortSignal,
  ): Promise<'completed' | 'stale'> {
    const { id, leaseToken, attempt, workerId } = lease;
    try {
      return await this.driver.transaction(async (tx) => {
        const resultJson = await fn(tx);
        const settled = await this.applySettle(tx, {
          workerId,
          settlements: [{ kind: 'complete', id, leaseToken, attempt, resultJson }],
        });
        if (settled.applied.length === 0) throw new StaleLease();
        return 'completed' as const;
      }, signal);
    } catch (error) {
      if (!(error instanceof StaleLease)) throw error;
      // The refusal's record went with the rollback of the handler's writes: write it again.
      // The refusal stands either way; a store failing at this moment costs its record only
      // (thrown, it would make the worker hand back, as if the store had failed the run).
      await this.driver.query(this.q.refuse, [id, leaseToken, attempt, workerId]).catch(() => {});
      return 'stale';
    }
  }

  async renewLeases(params: RenewLeasesParams): Promise<{ lost: string[] }> {
    const rows = params.leases.map((l) => ({ id: l.id, token: l.leaseToken }));
    const result = await this.driver.query<{ id: string }>(this.q.renew, [
      JSON.stringify(rows),
      params.leaseMs,
    ]);
    const renewed = new Set(result.rows.map((r) => r.id));
    return { lost: params.leases.filter((l) => !renewed.has(l.id)).map((l) => l.id) };
  }

  async recoverExpiredLeases(params: { limit: number }): Promise<number> {
    const result = await this.driver.query<{
      id: string;
      state: CommandState;
      batch_id: string | null;
    }>(this.q.recover, [params.limit]);
    const batchIds = [
      ...new Set(
        result.rows
          .filter((r) => r.batch_id && isFinishedForBatch(r.state))
          .map((r) => r.batch_id!),
      ),
    ];
    if (batchIds.length > 0) await this.finishBatches({ batchIds });
    return result.rows.length;
  }

  subscribe(listener: WakeListener): Promise<() => Promise<void>> {
    return this.driver.listen(this.channel, listener);
  }

  async getCommand(id: string): Promise<Command | null> {
    const result = await this.driver.query<CommandRow>(this.q.getCommand, [id]);
    const row = result.rows[0];
    return row ? toCommand(row) : null;
  }

  async getAudit(id: string): Promise<AuditRecord[]> {
    const command = await this.driver.query<CommandRow & { started_at: Date | null }>(
      this.q.getCommand,
      [id],
    );
    const row = command.rows[0];
    if (!row) return [];
    const audit = await this.driver.query<AuditRow>(this.q.getAudit, [id]);
    const records = [sentRecord(toCommand(row)), ...audit.rows.flatMap(toAuditRecords)];
    // The attempt running now is on the row only (its claim); the view has the rest,
    // a worker's completion included.
    if (row.state === 'in_progress' && row.started_at) {
      records.push(
        ...toAuditRecords({
          command_id: id,
          at: row.started_at,
          started_at: row.started_at,
          from_state: 'in_progress',
          to_state: 'in_progress',
          attempt: row.attempts,
          worker_id: row.worker_id,
          actor: null,
          reason: null,
          error: null,
        }).slice(0, 1),
      );
    }
    return records;
  }

  async operate(params: OperateParams): Promise<Command> {
    const command = await this.driver.transaction((tx) =>
      operate(tx, this.schema, this.channel, params),
    );
    if (command.batchId && isFinishedForBatch(command.state))
      await this.finishBatches({ batchIds: [command.batchId] });
    return command;
  }

  /**
   * Fresh commands due at once (copy.ts: copyable), by COPY in the transaction `tx`. The
   * caller counts them in the same transaction (CopyTally): a COPY returns no rows.
   */
  private copyCommands(tx: SqlTransaction, commands: readonly NewCommand[]): Promise<void> {
    return tx.copy(this.q.copyTarget, copyText(commands));
  }

  createBatch(params: CreateBatchParams): Promise<BatchInfo> {
    return createBatch(this.batchWrites, params);
  }

  getBatch(id: string): Promise<BatchInfo | null> {
    return this.batches.get(this.driver, id);
  }

  async listBatches(params: { limit: number; afterId?: string | undefined }): Promise<BatchInfo[]> {
    checkBatchCursor(params.afterId);
    return this.batches.list(this.driver, params);
  }

  finishBatches(params: { batchIds?: string[] }): Promise<BatchInfo[]> {
    return finishBatches(this.batchWrites, params.batchIds);
  }

  prune(params: PruneParams): Promise<number> {
    return this.housekeeping.prune(params);
  }

  takeToken(params: TakeTokenParams): Promise<TakeTokenResult> {
    return this.limits.takeToken(params);
  }

  acquireSlot(params: AcquireSlotParams): Promise<boolean> {
    return this.limits.acquireSlot(params);
  }

  releaseSlot(params: ReleaseSlotParams): Promise<void> {
    return this.limits.releaseSlot(params);
  }

  tidy(): Promise<void> {
    return this.housekeeping.tidy();
  }

  async ping(): Promise<void> {
    await this.driver.query('SELECT 1');
  }

  close(): Promise<void> {
    return this.driver.close();
  }
}
