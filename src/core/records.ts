import type { Command, JsonValue, NewCommand } from './command.js';
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
