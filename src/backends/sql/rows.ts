import type {
  AuditRecord,
  ClaimedCommand,
  Command,
  CommandError,
  JsonValue,
} from '../../core/command.js';
import type { CommandState } from '../../core/states.js';

/** A row of the commands table as both drivers return it. */
export interface CommandRow {
  id: string;
  domain: string;
  type: string;
  state: CommandState;
  priority: number;
  attempts: number;
  /** As the send named it; NULL: the handler's policy (policy_max_attempts). */
  max_attempts: number | null;
  /** The handler's max attempts in the worker that claimed the command last. */
  policy_max_attempts: number | null;
  run_at: Date;
  created_at: Date;
  updated_at: Date;
  lease_token: string | null;
  lease_expires_at: Date | null;
  worker_id: string | null;
  correlation_id: string | null;
  causation_id: string | null;
  batch_id: string | null;
  idempotency_key: string | null;
  /** NULL when the command carries none. */
  headers: Record<string, string> | null;
  data: JsonValue;
  result: JsonValue | null;
  last_error: CommandError | null;
}

export function toCommand(row: CommandRow): Command {
  return {
    id: row.id,
    domain: row.domain,
    type: row.type,
    data: row.data,
    state: row.state,
    priority: row.priority,
    attempts: row.attempts,
    maxAttempts: row.max_attempts ?? row.policy_max_attempts,
    runAt: row.run_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    correlationId: row.correlation_id,
    causationId: row.causation_id,
    batchId: row.batch_id,
    idempotencyKey: row.idempotency_key,
    headers: row.headers ?? {},
    lastError: row.last_error,
    result: row.result,
    workerId: row.worker_id,
    leaseExpiresAt: row.lease_expires_at,
  };
}

/** What the claim itself set, known without reading it back. */
export interface ClaimStamp {
  claimedAt: Date;
  leaseExpiresAt: Date;
  leaseToken: string;
  workerId: string;
}

/** A claimed row (CLAIMED_COLUMNS): in progress now, under the lease the claim just took. */
export function toClaimed(row: ClaimedRow, claim: ClaimStamp): ClaimedCommand {
  const { claimedAt } = claim;
  return {
    id: row.id,
    domain: row.domain,
    type: row.type,
    data: row.data,
    state: 'in_progress',
    priority: row.priority,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    runAt: claimedAt,
    createdAt: row.created_at,
    updatedAt: claimedAt,
    correlationId: row.correlation_id,
    causationId: row.causation_id,
    batchId: row.batch_id,
    idempotencyKey: row.idempotency_key,
    headers: row.headers ?? {},
    lastError: row.last_error,
    result: null,
    workerId: claim.workerId,
    leaseExpiresAt: claim.leaseExpiresAt,
    leaseToken: claim.leaseToken,
  };
}

export type ClaimedRow = Omit<
  CommandRow,
  | 'state'
  | 'run_at'
  | 'updated_at'
  | 'lease_expires_at'
  | 'result'
  | 'lease_token'
  | 'worker_id'
  | 'max_attempts'
  | 'policy_max_attempts'
> & {
  /** Resolved by the claim: the send's, else the handler policy it wrote. */
  max_attempts: number;
};

export interface AuditRow {
  command_id: string;
  at: Date;
  started_at: Date | null;
  from_state: CommandState | null;
  to_state: CommandState;
  attempt: number;
  worker_id: string | null;
  actor: string | null;
  reason: string | null;
  error: CommandError | null;
}

/**
 * An attempt is stored as one row (started_at … at, in_progress → outcome); reading it
 * back gives both transitions, so the trail shows the claim as well as its end.
 */
export function toAuditRecords(row: AuditRow): AuditRecord[] {
  const end: AuditRecord = {
    commandId: row.command_id,
    at: row.at,
    fromState: row.from_state,
    toState: row.to_state,
    attempt: row.attempt,
    workerId: row.worker_id,
    actor: row.actor,
    reason: row.reason,
    error: row.error,
  };
  if (row.from_state !== 'in_progress' || row.started_at === null) return [end];
  const start: AuditRecord = {
    commandId: row.command_id,
    at: row.started_at,
    fromState: 'pending',
    toState: 'in_progress',
    attempt: row.attempt,
    workerId: row.worker_id,
    actor: null,
    reason: 'claimed',
    error: null,
  };
  return [start, end];
}

/** The send itself is derived from the command row: one fewer write per command. */
export function sentRecord(command: Command): AuditRecord {
  return {
    commandId: command.id,
    at: command.createdAt,
    fromState: null,
    toState: 'pending',
    attempt: 0,
    workerId: null,
    actor: null,
    reason: 'sent',
    error: null,
  };
}
