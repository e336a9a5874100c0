/**
 * The commands of an insert as the statement's parameters (queries.ts): one JSON array for
 * json_to_recordset, or one fresh command's fields for insertOneFresh.
 */
import type { NewCommand } from '../../core/command.js';
import { headersJson } from '../../core/headers.js';

/**
 * The commands as one JSON array for json_to_recordset. Each payload is already JSON text
 * (serialised once, at validation), so it is spliced in rather than parsed and
 * serialised again on the hot send path.
 */
export function commandsJson(commands: NewCommand[]): string {
  const rows = commands.map((c) => {
    const fields = JSON.stringify({
      id: c.id,
      domain: c.domain,
      type: c.type,
      priority: c.priority,
      max_attempts: c.maxAttempts,
      delay_ms: c.delayMs,
      run_at: c.runAt?.toISOString() ?? null,
      correlation_id: c.correlationId,
      causation_id: c.causationId,
      batch_id: c.batchId,
      idempotency_key: c.idempotencyKey,
    });
    // a command without headers leaves the key out (read as NULL): nothing added to the
    // common send
    const headers = c.headers ? `,"headers":${JSON.stringify(c.headers)}` : '';
    return `${fields.slice(0, -1)},"data":${c.dataJson}${headers}}`;
  });
  return `[${rows.join(',')}]`;
}

/** The parameters of insertOneFresh, in its order. */
export function oneFreshParams(c: NewCommand): unknown[] {
  return [
    c.id,
    c.domain,
    c.type,
    c.dataJson,
    c.priority,
    c.maxAttempts,
    c.runAt?.toISOString() ?? null,
    c.delayMs,
    c.correlationId,
    c.causationId,
    c.batchId,
    headersJson(c.headers),
  ];
}
