import type { ClaimedCommand, Command, CommandError, JsonValue } from '../../core/command.js';
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
