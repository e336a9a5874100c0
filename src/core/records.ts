import type {
  AuditDetails,
  AuditRecord,
  Command,
  CommandError,
  JsonValue,
  NewCommand,
} from './command.js';
import type { CommandState } from './states.js';
import { uuidv7 } from './ids.js';

/** The command a fresh send stored, built from what was sent and the times the store chose. */
export function pendingCommand(c: NewCommand, createdAt: Date, runAt: Date): Command {
  return {
    id: c.id,
    domain: c.domain,
    type: c.type,
    data: c.data !== undefined ? c.data : (JSON.parse(c.dataJson) as JsonValue),
    state: 'pending',
    priority: c.priority,
    attempts: 0,
    maxAttempts: c.maxAttempts,
    runAt,
    createdAt,
    updatedAt: createdAt,
    correlationId: c.correlationId,
    causationId: c.causationId,
    batchId: c.batchId,
    idempotencyKey: c.idempotencyKey,
    headers: c.headers ?? {},
    lastError: null,
    result: null,
    workerId: null,
    leaseExpiresAt: null,
  };
}

/**
 * The command that tells the application a batch has finished. Its idempotency key makes
 * a second finish (another worker, a crash between steps) send nothing more.
 */
export function batchCompletionCommand(
  batchId: string,
  onComplete: {
    domain: string;
    type: string;
    data: JsonValue;
    headers?: Record<string, string> | undefined;
  },
  summary: { status: string; counts: object },
): NewCommand {
  return {
    id: uuidv7(),
    domain: onComplete.domain,
    type: onComplete.type,
    dataJson: JSON.stringify({ batchId, ...summary, data: onComplete.data }),
    priority: 0,
    maxAttempts: null,
    delayMs: 0,
    runAt: null,
    correlationId: batchId,
    causationId: null,
    batchId: null,
    idempotencyKey: `batch-completed:${batchId}`,
    // as the batch's creator gave them (checked then); a batch created before headers
    // existed has none
    headers: onComplete.headers,
  };
}

/**
 * One stored audit entry, named as the SQL audit table's columns; the Redis store reads
 * its entries into the same shape, so both read back the trail the same way.
 */
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
  /** What the transition changed besides the state (an edited payload); null or absent: nothing. */
  details?: AuditDetails | null | undefined;
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
  if (row.details) end.details = row.details;
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
