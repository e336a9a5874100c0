import { pendingCommand } from '../../core/records.js';
import type { Command, NewCommand } from '../../core/command.js';
import { DEFAULT_RETRY_POLICY } from '../../core/retry.js';
import type { HandlerMaxAttempts, Settlement } from '../backend.js';
import { FIELD_SEPARATOR as FS, RECORD_END } from './scripts/index.js';

/** Commands per script call: large enough to amortise the call, small enough not to stall Redis. */
export const CHUNK = 1000;

export function chunks<T>(items: T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

/** A command as the insert script reads it (scripts/insert.ts). */
export function insertArgs(c: NewCommand): string[] {
  return [
    c.id,
    c.type,
    c.dataJson,
    String(c.priority),
    c.maxAttempts === null ? '' : String(c.maxAttempts),
    String(c.delayMs),
    c.runAt ? String(c.runAt.getTime()) : '',
    c.correlationId ?? '',
    c.causationId ?? '',
    c.batchId ?? '',
    c.idempotencyKey ?? '',
    c.headers ? JSON.stringify(c.headers) : '',
  ];
}

/** Settlements packed into the settle script's one argument (scripts/settle.ts). */
export function packSettlements(settlements: Settlement[]): string {
  return settlements.map(settlementRecord).join('');
}

function settlementRecord(s: Settlement): string {
  const fields = (kind: string, json: string, delayMs: number, reason: string) =>
    `${s.id}${FS}${s.leaseToken}${FS}${s.attempt}${FS}${kind}${FS}${json}${FS}${delayMs}${FS}${reason}${RECORD_END}`;
  switch (s.kind) {
    case 'complete':
      return fields(s.kind, s.resultJson ?? '', 0, '');
    case 'retry':
      return fields(s.kind, JSON.stringify(s.error), s.delayMs, '');
    case 'troubleshoot':
      return fields(s.kind, JSON.stringify(s.error), 0, '');
    case 'release':
      return fields(s.kind, '', s.delayMs, s.reason);
  }
}

/** The command a fresh insert stored, built without reading it back. */
export function newCommand(c: NewCommand, now: number): Command {
  const at = new Date(now);
  return pendingCommand(c, at, c.runAt ?? new Date(now + c.delayMs));
}

/**
 * The claim script's ARGV[6] and ARGV[7] (scripts/claim.ts): the handlers' max attempts by
 * type as a JSON object ('' when no type differs), and every other type's.
 */
export function handlerMaxAttemptsArgs(policy: HandlerMaxAttempts | undefined): [string, string] {
  if (!policy) return ['', String(DEFAULT_RETRY_POLICY.maxAttempts)];
  if (policy.types.length === 0) return ['', String(policy.fallback)];
  const byType: Record<string, number> = {};
  policy.types.forEach((type, i) => (byType[type] = policy.limits[i]!));
  return [JSON.stringify(byType), String(policy.fallback)];
}
