/**
 * The operator role: what an operator, the CLI and the console read and do, off the hot
 * path. Reads of one command and its audit trail, the operator actions on the
 * troubleshooting queue (each a conditional write audited with who and why), and the
 * list and count queries in `AdminQueries`.
 */
import type { AuditRecord, Command, CommandError } from '../../core/command.js';
import type { CommandState } from '../../core/states.js';

export type OperatorAction =
  | {
      action: 'retry';
      /**
       * Edit then retry: the new payload's JSON text (checked by the bus). The store
       * replaces the payload in the same atomic step and audits the old and new payloads
       * (AuditRecord.details).
       */
      dataJson?: string | undefined;
    }
  | { action: 'cancel' }
  | { action: 'complete'; resultJson: string | null };

export type OperateParams = OperatorAction & {
  id: string;
  actor: string;
  reason: string | null;
};

export interface ListCommandsParams {
  state?: CommandState | undefined;
  domain?: string | undefined;
  type?: string | undefined;
  errorCode?: string | undefined;
  batchId?: string | undefined;
  correlationId?: string | undefined;
  /** The commands a command sent: those whose causationId is this id. */
  causationId?: string | undefined;
  /** Created at or after this time. */
  createdAfter?: Date | undefined;
  /** Created before this time. */
  createdBefore?: Date | undefined;
  /**
   * Commands whose payload, as JSON text, contains this text, ignoring case. A scan of the
   * commands the other filters leave: give a narrower filter with it on a large store.
   */
  text?: string | undefined;
  limit: number;
  /** Id order: 'asc' oldest first (default), 'desc' newest first. */
  order?: 'asc' | 'desc' | undefined;
  /** Keyset pagination: the commands after this id in the listing's order. */
  afterId?: string | undefined;
}

/** Queries for operators and the console; not on the hot path. */
/** How many commands are in one state, for one domain and type. */
export interface CommandCount {
  domain: string;
  type: string;
  state: CommandState;
  count: number;
}

/** The earliest due pending command of one domain: how long its queue has waited. */
export interface OldestPending {
  domain: string;
  /** The earliest `runAt` among the domain's pending commands that are due. */
  runAt: Date;
}

/** A troubleshooting command's error and where it sits, without its payload or result. */
export type TroubleshootingError = Pick<Command, 'id' | 'domain' | 'type' | 'updatedAt'> & {
  lastError: CommandError | null;
};

export interface TroubleshootingErrorsParams {
  domain: string;
  type?: string | undefined;
  /** Keyset pagination: those after this id (oldest first). */
  afterId?: string | undefined;
  limit: number;
}

export interface AdminQueries {
  listCommands(params: ListCommandsParams): Promise<Command[]>;
  /**
   * Optional: what listCommands gives for `{ state: 'troubleshooting', domain, type,
   * afterId, limit }` (oldest first), each command's error alone: the console groups a
   * troubleshooting queue of thousands by error, and reading their payloads costs most of
   * that. Without it the bus reads the same through listCommands.
   */
  listTroubleshootingErrors?(params: TroubleshootingErrorsParams): Promise<TroubleshootingError[]>;
  countByState(params: { domain?: string }): Promise<Record<CommandState, number>>;
  /**
   * Commands per domain, type and state, read from counters the store keeps with every
   * transition: the cost does not grow with history. Zero counts are left out.
   */
  countCommands(params: { domain?: string | undefined }): Promise<CommandCount[]>;
  /**
   * Per domain (or for `domain` only), the earliest `runAt` among commands pending and due
   * (run at or before now by the store's clock: waiting for a worker, not delayed). Domains
   * with nothing due are left out; ordered by domain. A few index lookups per domain,
   * whatever the depth of the queue or the history: cheap enough for every scrape.
   */
  oldestPending(params?: { domain?: string | undefined }): Promise<OldestPending[]>;
}

/** Reads and actions for operators: one command, its trail, the troubleshooting queue. */
export interface OperatorStore {
  getCommand(id: string): Promise<Command | null>;
  /** The command's audit trail, oldest first; empty for an unknown (or pruned) id. */
  getAudit(id: string): Promise<AuditRecord[]>;
  /**
   * Retry, cancel or complete, only from a state the action allows (docs/lifecycle.md),
   * audited with `actor` and `reason` in the same atomic step. Throws
   * CommandNotFoundError for an unknown id, and InvalidStateError, changing nothing, when
   * the command's state does not allow the action.
   */
  operate(params: OperateParams): Promise<Command>;
  readonly admin: AdminQueries;
}
