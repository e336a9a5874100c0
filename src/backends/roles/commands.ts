/**
 * The commands role: the hot path every worker and sender runs. Insert (with the
 * application's transaction for the outbox), claim with a lease and a fencing token,
 * settle outcomes in batches, renew and recover leases, and wake idle workers.
 *
 * Every state change here is a conditional write (only from the state it expects, and for
 * a settle or renewal only with the claim's fencing token) that appends its audit record
 * in the same atomic step.
 */
import type { ClaimedCommand, Command, CommandError, NewCommand } from '../../core/command.js';
import type { Queryable } from '../../core/queryable.js';

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

/** A wake-up subscription; the listener gets the domain that has new work. */
export type WakeListener = (domain: string) => void;

/** What senders and workers ask of a store on every command (the hot path). */
export interface CommandStore {
  /** What this store can do; the bus, the worker and the conformance suite ask, never assume. */
  readonly capabilities: BackendCapabilities;

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
}
