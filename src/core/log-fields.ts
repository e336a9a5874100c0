import type { Command } from './command.js';
import { traceIdOf, type ProcessTrace } from './tracing.js';

/**
 * The fields of every log line about a command: what it is (id, domain, type), which
 * attempt, and the ids that tie it to others (correlation, batch, trace). The trace id
 * is the attempt's span's when it is traced, else the one its `traceparent` names; a
 * field with no value is left out of the line.
 */
export function commandLogFields(
  command: Command,
  attempt?: ProcessTrace | null,
): Record<string, unknown> {
  return {
    commandId: command.id,
    domain: command.domain,
    type: command.type,
    attempt: command.attempts,
    correlationId: command.correlationId,
    batchId: command.batchId,
    traceId: traceIdOf(command.headers, attempt),
  };
}
