import type { NewCommand } from '../../core/command.js';

/**
 * Bulk sends through COPY, on both SQL stores. COPY skips the per-row work of an INSERT
 * from a JSON array (decoding each record, one executor pass per row) and writes whole
 * heap pages at a time: on PGlite, where every statement runs in WebAssembly, 100,000
 * commands go in at 87,000-100,000 a second against 54,000-62,000 through
 * json_to_recordset; on PostgreSQL, in chunks of 1,000, at 74,000-88,000 against
 * 56,000-65,000. It only fits commands that cannot collide (ids the bus made, no
 * idempotency key) and are due at once (run_at and created_at take the column default,
 * the transaction's now()); any other send takes the INSERT.
 */
export const COPY_COLUMNS =
  '(id, domain, type, data, priority, max_attempts, correlation_id, causation_id, batch_id, headers)';

/** No command of these can exist already: ids the bus made, no idempotency keys. */
export function allFresh(commands: readonly NewCommand[]): boolean {
  for (const c of commands) if (c.idFromCaller || c.idempotencyKey !== null) return false;
  return true;
}

/**
 * The fewest commands worth a COPY. Below it the prepared INSERT wins: a COPY costs a
 * transaction of three statements, parsed each time, and the coalesced sends of a busy
 * application (a few to a few dozen at a time) went 40% slower through it.
 */
export const COPY_AT_LEAST = 128;

/** Enough fresh commands, all due at once: what COPY can insert. */
export function copyable(commands: readonly NewCommand[]): boolean {
  if (commands.length < COPY_AT_LEAST || !allFresh(commands)) return false;
  for (const c of commands) if (c.delayMs !== 0 || c.runAt) return false;
  return true;
}

const SPECIAL = /[\\\t\n\r]/;
const SPECIALS = /[\\\t\n\r]/g;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** A value in COPY's text format: \N for null, and the four characters it reserves escaped. */
function field(value: string | null): string {
  if (value === null) return '\\N';
  return SPECIAL.test(value) ? value.replace(SPECIALS, (ch) => ESCAPES[ch]!) : value;
}

/** The commands as COPY input (text format, COPY_COLUMNS order, one line each). */
export function copyText(commands: readonly NewCommand[]): string {
  let text = '';
  for (const c of commands) {
    // ids, domains and types are UUIDs and checked names: nothing in them to escape
    text += `${c.id}\t${c.domain}\t${c.type}\t${field(c.dataJson)}\t${c.priority}\t${c.maxAttempts ?? '\\N'}\t${field(c.correlationId)}\t${field(c.causationId)}\t${field(c.batchId)}\t${c.headers ? field(JSON.stringify(c.headers)) : '\\N'}\n`;
  }
  return text;
}
