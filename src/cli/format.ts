import type { BatchInfo } from '../backends/backend.js';
import type { AuditRecord, Command } from '../core/command.js';
import { COMMAND_STATES, countKeyOf } from '../core/lifecycle.js';

/** Readable text for operators. `--json` prints the records themselves instead. */

const time = (d: Date | null): string => (d ? d.toISOString() : '-');
const json = (v: unknown): string => (v === null || v === undefined ? '-' : JSON.stringify(v));

export function formatCommand(c: Command): string {
  const rows: [string, string][] = [
    ['id', c.id],
    ['command', `${c.domain}/${c.type}`],
    ['state', c.state],
    ['attempts', `${c.attempts} of ${c.maxAttempts ?? "the handler's max attempts"}`],
    ['priority', String(c.priority)],
    ['created', time(c.createdAt)],
    ['run at', time(c.runAt)],
    ['updated', time(c.updatedAt)],
    ['correlation', c.correlationId ?? '-'],
    ['causation', c.causationId ?? '-'],
    ['batch', c.batchId ?? '-'],
    ['idempotency', c.idempotencyKey ?? '-'],
    ['headers', formatHeaders(c.headers)],
    ['worker', c.workerId ? `${c.workerId} (lease until ${time(c.leaseExpiresAt)})` : '-'],
    ['last error', c.lastError ? `${c.lastError.code}: ${c.lastError.message}` : '-'],
    ['data', json(c.data)],
    ['result', json(c.result)],
  ];
  return rows.map(([k, v]) => `${k.padEnd(12)} ${v}`).join('\n');
}

/** A header value with its control characters (C0, DEL, C1) as \u escapes: kept off the terminal. */
function escapeControl(value: string): string {
  let out = '';
  for (const ch of value) {
    const code = ch.charCodeAt(0);
    out +=
      code < 0x20 || (code >= 0x7f && code <= 0x9f)
        ? `\\u${code.toString(16).padStart(4, '0')}`
        : ch;
  }
  return out;
}

/** One header a line (`name: value`) by name, under the first; '-' for none. */
function formatHeaders(headers: Record<string, string>): string {
  // sorted: the stores keep headers as a map, not in the order they were sent
  const sorted = Object.entries(headers).sort(([a], [b]) => (a < b ? -1 : 1));
  const lines = sorted.map(([name, value]) => `${name}: ${escapeControl(value)}`);
  return lines.length === 0 ? '-' : lines.join(`\n${' '.repeat(13)}`);
}

export function formatAudit(records: AuditRecord[]): string {
  if (records.length === 0) return 'audit trail: (empty)';
  const lines = records.map((r) => {
    const move = `${r.fromState ?? '(new)'} → ${r.toState}`;
    const who = r.actor ? `by ${r.actor}` : r.workerId ? `worker ${r.workerId}` : '';
    const why = [r.reason, r.error ? `${r.error.code}: ${r.error.message}` : null]
      .filter(Boolean)
      .join(' — ');
    const line =
      `  ${time(r.at)}  ${move.padEnd(32)} attempt ${String(r.attempt).padEnd(3)} ${who}${who && why ? '  ' : ''}${why}`.trimEnd();
    return [line, ...formatDetails(r.details)].join('\n');
  });
  return ['audit trail:', ...lines].join('\n');
}

/** What an audit record changed besides the state, a line each, under its record. */
function formatDetails(details: AuditRecord['details']): string[] {
  if (!details) return [];
  const lines: string[] = [];
  const indent = ' '.repeat(26);
  if (details.dataBefore !== undefined)
    lines.push(`${indent}payload before: ${JSON.stringify(details.dataBefore)}`);
  if (details.dataAfter !== undefined)
    lines.push(`${indent}payload after:  ${JSON.stringify(details.dataAfter)}`);
  return lines;
}

/** A table of commands; `withState` adds their state (a listing across states). */
export function formatCommandList(commands: Command[], withState = false): string {
  if (commands.length === 0) return '(no commands)';
  const state = (s: string) => (withState ? `${s.padEnd(15)}  ` : '');
  const header = `${'ID'.padEnd(36)}  ${state('STATE')}${'COMMAND'.padEnd(30)}  ATTEMPTS  ${'ERROR'.padEnd(16)}  UPDATED`;
  const lines = commands.map((c) => {
    const error = c.lastError?.code ?? '-';
    const message = c.lastError ? `  ${truncate(c.lastError.message, 60)}` : '';
    return `${c.id}  ${state(c.state)}${truncate(`${c.domain}/${c.type}`, 30).padEnd(30)}  ${`${c.attempts}/${c.maxAttempts ?? '-'}`.padEnd(8)}  ${truncate(error, 16).padEnd(16)}  ${time(c.updatedAt)}${message}`;
  });
  return [header, ...lines].join('\n');
}

export function formatBatch(b: BatchInfo): string {
  const c = b.counts;
  const rows: [string, string][] = [
    ['id', b.id],
    ['name', b.name ?? '-'],
    ['status', b.status],
    ['total', String(c.total)],
    // one row per state, named as the state is (`in progress`)
    ...COMMAND_STATES.map((s): [string, string] => [s.replace('_', ' '), String(c[countKeyOf(s)])]),
    ['failed', String(c.failed)],
    ['created', time(b.createdAt)],
    ['finished', time(b.finishedAt)],
    ['on complete', b.completionCommandId ?? '-'],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)} ${v}`).join('\n');
}

function truncate(s: string, n: number): string {
  const oneLine = s.replace(/\s+/g, ' ');
  return oneLine.length > n ? `${oneLine.slice(0, n - 1)}…` : oneLine;
}
