/**
 * The Backend contract: everything the bus and the worker ask of a store. Small on
 * purpose: params objects in, plain records out, and what a store can or cannot do is
 * stated by `capabilities`, never assumed. Operator and console queries live in
 * `AdminQueries`, away from the hot path.
 *
 * Every state change is a conditional write (only from the state it expects, and for a
 * settle only with the claim's fencing token) that appends its audit record in the same
 * atomic step.
 */
import type {
  AuditRecord,
  ClaimedCommand,
  Command,
  CommandError,
  JsonValue,
  NewCommand,
} from '../core/command.js';
import type { CommandState } from '../core/states.js';

import type { Queryable } from '../core/queryable.js';

export type { Queryable };

export interface BackendCapabilities {
  /** `send` can join the application's transaction, and `ctx.tx` handlers complete in theirs. */
  transactions: boolean;
  /** The store pushes wake-ups when commands are sent (LISTEN/NOTIFY, in-process events). */
  wakeups: boolean;
  /**
   * The most commands one claim takes unless the worker says otherwise. A SQL claim costs
   * a round trip and a plan whatever its size, so large claims pay; a Redis claim is one
   * script that holds the server while it runs, so smaller ones interleave with the
   * settles and leave fewer commands waiting in the worker.
   */
  claimBatchSize: number;
  /**
   * A claim can wait for work (ClaimParams.waitMs): it blocks in the store until a command
   * is ready or the wait ends, and claims in the same round trip as the wake-up.
   */
  waitingClaims: boolean;
}

export interface InsertCommandsParams {
  commands: NewCommand[];
  /** The application's open transaction (outbox): the commands commit or roll back with it. */
  tx?: Queryable | undefined;
}

export interface InsertedCommand {
  command: Command;
  /** false when the id or idempotency key already existed and the first command came back. */
  created: boolean;
}

export interface ClaimParams {
  workerId: string;
  domain: string;
  /** Only these types; null claims every type of the domain. */
  types: string[] | null;
  limit: number;
  leaseMs: number;
  /** The fencing token this claim stamps on every command it takes. */
  leaseToken: string;
  /**
   * The claiming worker's retry policy, for the commands whose send named no maxAttempts:
   * the store keeps it with the claim, so that its own decisions (an expired lease that
   * used the last attempt) follow the handler. Default: every type allows
   * DEFAULT_RETRY_POLICY.maxAttempts.
   */
  handlerMaxAttempts?: HandlerMaxAttempts | undefined;
  /**
   * Only with `capabilities.waitingClaims`. Set (0 included) by a worker that waits for
   * work by claiming, so the store does not also wake it; above 0, the claim waits up to
   * this long for a command to be ready when none is. `signal` ends the wait early.
   */
  waitMs?: number | undefined;
  signal?: AbortSignal | undefined;
}

/**
 * The attempts a worker's handlers of one domain allow: `limits[i]` for type `types[i]`,
 * `fallback` for every other type. Two arrays rather than a map, since that is how a SQL
 * statement takes them, and usually both are empty (every handler has the default).
 */
export interface HandlerMaxAttempts {
  types: string[];
  limits: number[];
  fallback: number;
}

interface SettlementBase {
  id: string;
  leaseToken: string;
  /**
   * The attempt this outcome ends (the claimed command's `attempts`): recorded with the
   * worker's id in the audit trail when the store refuses the outcome as late.
   */
  attempt: number;
  /**
   * The command's domain, when the caller knows it (workers always do): a store that keys
   * commands by domain (Redis) then needs no lookup by id.
   */
  domain?: string | undefined;
}

/** The outcome of one attempt, applied only while the claim's token is still current. */
export type Settlement =
  | (SettlementBase & { kind: 'complete'; resultJson: string | null })
  | (SettlementBase & { kind: 'retry'; delayMs: number; error: CommandError })
  | (SettlementBase & { kind: 'troubleshoot'; error: CommandError })
  /** Back to pending without spending the attempt: snooze, rate limit, shutdown hand-back. */
  | (SettlementBase & { kind: 'release'; delayMs: number; reason: string });

export interface SettleParams {
  workerId: string;
  settlements: Settlement[];
}

/**
 * Every settlement's id is in exactly one of `applied` and `stale`. A stale one is
 * audited, in the same atomic step that refuses it, as `late outcome refused (why)`.
 */
export interface SettleResult {
  /** Ids whose settlement was applied. */
  applied: string[];
  /** Ids refused because the token was stale (the lease expired and was reclaimed). */
  stale: string[];
  /** Batches that had a command reach a final state in this call. */
  touchedBatchIds: string[];
}

export interface Lease {
  id: string;
  leaseToken: string;
  /** As in a settlement: the command's domain, when known. */
  domain?: string | undefined;
}

export interface RenewLeasesParams {
  leases: Lease[];
  leaseMs: number;
}

export type OperatorAction =
  { action: 'retry' } | { action: 'cancel' } | { action: 'complete'; resultJson: string | null };

export type OperateParams = OperatorAction & {
  id: string;
  actor: string;
  reason: string | null;
};

export interface NewBatch {
  id: string;
  name: string | null;
  /**
   * Sent durably, exactly once, when the batch first finishes: every command of it
   * completed, cancelled or in troubleshooting. Never again after an operator's action.
   */
  onComplete: { domain: string; type: string; data: JsonValue } | null;
}

export type BatchStatus = 'pending' | 'in_progress' | 'completed' | 'completed_with_failures';

export interface BatchCounts {
  total: number;
  pending: number;
  inProgress: number;
  completed: number;
  cancelled: number;
  troubleshooting: number;
  /** Commands with a failed attempt that have not succeeded: awaiting a retry or in troubleshooting. */
  failed: number;
}

/** What a batch is now, the same on every store (docs/lifecycle.md, Batches). */
export interface BatchInfo {
  id: string;
  name: string | null;
  /** Derived from the live counts and whether the batch has finished (batchStatus). */
  status: BatchStatus;
  /** Live: where every command of the batch is now, also after the finish. */
  counts: BatchCounts;
  createdAt: Date;
  /** When the batch first finished and sent its completion command; null before. */
  finishedAt: Date | null;
  completionCommandId: string | null;
}

export interface CreateBatchParams {
  batch: NewBatch;
  /** Chunks of commands, all inserted in one transaction with the batch. */
  chunks: Iterable<NewCommand[]> | AsyncIterable<NewCommand[]>;
}

export interface PruneParams {
  /** Completed and cancelled commands older than this (by last update) go, with their audit. */
  olderThanMs: number;
  limit: number;
}

/**
 * One take from a token bucket shared by every worker of the store. `key` is opaque to
 * the store (a bucket name or a tenant's key; a backend may namespace it, e.g. with its
 * key prefix or schema).
 */
export interface TakeTokenParams {
  key: string;
  /** Tokens added per `perMs`, continuously: one every perMs / limit ms. Whole number >= 1. */
  limit: number;
  /** The refill period in ms, > 0. */
  perMs: number;
  /** Most tokens the bucket holds (the largest burst). Whole number >= 1. */
  capacity: number;
}

export interface TakeTokenResult {
  granted: boolean;
  /** 0 when granted; otherwise ms until the next token is due (>= 1), by the store's clock. */
  retryAfterMs: number;
}

export interface AcquireSlotParams {
  /** The cap's name (the worker uses `domain/type`). */
  key: string;
  /** Most holders at once. */
  limit: number;
  /** Unique per execution; acquiring again with the same holder renews its slot. */
  holder: string;
  /** The slot frees itself this long after the last acquire/renew (a crashed worker's slot). */
  leaseMs: number;
}

export interface ReleaseSlotParams {
  key: string;
  holder: string;
}

/** A wake-up subscription; the listener gets the domain that has new work. */
export type WakeListener = (domain: string) => void;

export interface Backend {
  readonly kind: string;
  readonly capabilities: BackendCapabilities;

  /** Applies pending migrations (idempotent, safe when several processes start at once). */
  migrate(): Promise<void>;
  /** Throws SchemaVersionError when the store's schema is older or newer than this code. */
  checkSchema(): Promise<void>;

  insertCommands(params: InsertCommandsParams): Promise<InsertedCommand[]>;
  /**
   * True when `error`, thrown by insertCommands, is the store refusing a value it was sent:
   * the same command would be refused again, and the others sent with it would not. False
   * when the store failed (unreachable, timed out, out of memory, shutting down). The bus
   * splits a refused group of concurrent sends to find the command at fault.
   */
  isRefusal(error: unknown): boolean;
  claim(params: ClaimParams): Promise<ClaimedCommand[]>;
  settle(params: SettleParams): Promise<SettleResult>;
  /**
   * Runs `fn` in a store transaction and completes the command in that same transaction,
   * so the handler's writes and the completion commit together or not at all. Resolves
   * 'stale' (and rolls back) when the lease was lost. Only with `capabilities.transactions`.
   * `signal` aborts when the run is given up (its lease is gone, it timed out, the worker
   * stops): a store over a network then drops the transaction's connection, so a statement
   * waiting on it ends at once.
   */
  completeInTransaction(
    lease: Lease & { workerId: string; attempt: number },
    fn: (tx: Queryable) => Promise<string | null>,
    signal?: AbortSignal,
  ): Promise<'completed' | 'stale'>;
  renewLeases(params: RenewLeasesParams): Promise<{ lost: string[] }>;
  /** Expired leases: back to pending (the attempt counts) or to troubleshooting if none left. */
  recoverExpiredLeases(params: { limit: number }): Promise<number>;
  subscribe(listener: WakeListener): Promise<() => Promise<void>>;

  getCommand(id: string): Promise<Command | null>;
  getAudit(id: string): Promise<AuditRecord[]>;
  operate(params: OperateParams): Promise<Command>;

  createBatch(params: CreateBatchParams): Promise<BatchInfo>;
  getBatch(id: string): Promise<BatchInfo | null>;
  /** Finishes every batch (or the ones named) whose commands are all done; sends their completion commands. */
  finishBatches(params: { batchIds?: string[] }): Promise<BatchInfo[]>;

  /**
   * Token bucket, atomic across every worker and process of the store, timed by the
   * store's clock (never a worker's). A bucket that does not exist is full: it starts
   * with `capacity` tokens. On each call: tokens = min(capacity, tokens + elapsed *
   * limit / perMs), where elapsed is the store time since the last call on this key
   * (never negative); then if tokens >= 1 take one and grant, else refuse with
   * retryAfterMs = ceil((1 - tokens) * perMs / limit), changing nothing else. The params
   * of the current call are used for the refill (a key has one spec; the registry checks
   * it). A bucket untouched long enough to be full again may be forgotten (expire/prune):
   * it is then re-created full, which is the same state.
   */
  takeToken(params: TakeTokenParams): Promise<TakeTokenResult>;
  /**
   * Concurrency cap, atomic across every worker of the store. Holders whose slot expired
   * (store clock) are dropped first. If `holder` already holds a slot of `key`, its
   * expiry moves to now + leaseMs and the result is true (renewal). Otherwise, if fewer
   * than `limit` unexpired holders remain, `holder` takes a slot expiring at now +
   * leaseMs and the result is true; else false and nothing changes.
   */
  acquireSlot(params: AcquireSlotParams): Promise<boolean>;
  /** Frees `holder`'s slot of `key`; a no-op when it holds none (expired or released). */
  releaseSlot(params: ReleaseSlotParams): Promise<void>;

  prune(params: PruneParams): Promise<number>;
  /**
   * Reclaims what finished work left behind, if the store needs it: on PostgreSQL and
   * PGlite, VACUUM of the commands table once dead rows pile up, so the claim index does
   * not fill with dead entries between autovacuum runs. Worker maintenance calls it every
   * few seconds; it must be cheap when there is nothing to do. Optional.
   */
  tidy?(): Promise<void>;
  readonly admin: AdminQueries;
  close(): Promise<void>;
}

export interface ListCommandsParams {
  state?: CommandState | undefined;
  domain?: string | undefined;
  type?: string | undefined;
  errorCode?: string | undefined;
  limit: number;
  /** Keyset pagination: ids after this one. */
  afterId?: string | undefined;
}

/** How many commands are in one state, for one domain and type. */
export interface CommandCount {
  domain: string;
  type: string;
  state: CommandState;
  count: number;
}

/** Queries for operators and the console; not on the hot path. */
export interface AdminQueries {
  listCommands(params: ListCommandsParams): Promise<Command[]>;
  countByState(params: { domain?: string }): Promise<Record<CommandState, number>>;
  /**
   * Commands per domain, type and state, read from counters the store keeps with every
   * transition: the cost does not grow with history. Zero counts are left out.
   */
  countCommands(params: { domain?: string | undefined }): Promise<CommandCount[]>;
}
