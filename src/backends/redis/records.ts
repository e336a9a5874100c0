import type {
  AuditDetails,
  AuditRecord,
  ClaimedCommand,
  Command,
  CommandError,
  JsonValue,
} from '../../core/command.js';
import type { CommandState } from '../../core/states.js';
import { sentRecord, toAuditRecords } from '../../core/records.js';
import { CLAIM_FIELDS, COMMAND_FIELDS } from './keys.js';

/** Where each named field sits in a reply row that starts with `offset` other items. */
export function positionsOf<const F extends string>(
  fields: readonly F[],
  offset = 0,
): Record<F, number> {
  return Object.fromEntries(fields.map((f, i) => [f, offset + i])) as Record<F, number>;
}

/**
 * A command as the scripts return it: its id, then the hash fields in COMMAND_FIELDS
 * order (null where a field is absent), read by name through COMMAND_AT.
 */
export type CommandReply = [string, ...(string | null)[]];

/** The position of each field in a CommandReply (the id comes first). */
export const COMMAND_AT = positionsOf(COMMAND_FIELDS, 1);

const num = (v: string | null | undefined) => Number(v ?? 0);
const date = (v: string | null | undefined) => new Date(Number(v ?? 0));
const json = <T>(v: string | null | undefined): T | null =>
  v === null || v === undefined ? null : (JSON.parse(v) as T);
const headers = (v: string | null | undefined): Record<string, string> =>
  v ? (JSON.parse(v) as Record<string, string>) : {};
/** The send's max attempts ('' when it named none), else the last claim's handler policy. */
const maxAttempts = (sent: string | null | undefined, policy: string | null | undefined) =>
  sent ? Number(sent) : policy ? Number(policy) : null;

export function toCommand(domain: string, reply: CommandReply): Command {
  const at = COMMAND_AT;
  const leaseExpires = reply[at.le];
  return {
    id: reply[0],
    domain,
    type: reply[at.t]!,
    data: json<JsonValue>(reply[at.d]),
    state: reply[at.s] as CommandState,
    priority: num(reply[at.p]),
    attempts: num(reply[at.a]),
    maxAttempts: maxAttempts(reply[at.m], reply[at.pm]),
    runAt: date(reply[at.r]),
    createdAt: date(reply[at.c]),
    updatedAt: date(reply[at.u]),
    correlationId: reply[at.co] ?? null,
    causationId: reply[at.ca] ?? null,
    batchId: reply[at.b] ?? null,
    idempotencyKey: reply[at.k] ?? null,
    headers: headers(reply[at.h]),
    lastError: json<CommandError>(reply[at.e]),
    result: json<JsonValue>(reply[at.res]),
    workerId: reply[at.w] ?? null,
    leaseExpiresAt: leaseExpires ? date(leaseExpires) : null,
  };
}

/**
 * A claimed command as the claim script returns it: CLAIM_FIELDS (keys.ts) with the id in
 * the state's place, the attempt counted and the max attempts resolved. What the claim wrote (state, lease, worker,
 * update time) comes from the claim's own parameters and the server time it returned.
 */
export type ClaimReply = [string, ...(string | null)[]];

/** The position of each field in a ClaimReply; the id is where the state was read. */
const CLAIM_AT = positionsOf(CLAIM_FIELDS);

/**
 * Written out rather than built on toCommand: this runs once per claimed command, and one
 * object literal of one shape is the cheapest thing to make (no intermediate copy).
 */
export function toClaimed(
  domain: string,
  row: ClaimReply,
  claim: { now: number; leaseMs: number; leaseToken: string; workerId: string },
): ClaimedCommand {
  const at = CLAIM_AT;
  return {
    id: row[at.s]!,
    domain,
    type: row[at.t]!,
    data: json<JsonValue>(row[at.d]),
    state: 'in_progress',
    priority: num(row[at.p]),
    attempts: num(row[at.a]),
    maxAttempts: num(row[at.m]),
    runAt: date(row[at.r]),
    createdAt: date(row[at.c]),
    updatedAt: new Date(claim.now),
    correlationId: row[at.co] ?? null,
    causationId: row[at.ca] ?? null,
    batchId: row[at.b] ?? null,
    idempotencyKey: row[at.k] ?? null,
    headers: headers(row[at.h]),
    lastError: json<CommandError>(row[at.e]),
    result: json<JsonValue>(row[at.res]),
    workerId: claim.workerId,
    leaseExpiresAt: new Date(claim.now + claim.leaseMs),
    leaseToken: claim.leaseToken,
  };
}

/** An audit entry as the scripts write it (see `audit` in scripts/prelude.ts). */
type AuditEntry = [
  number,
  number | null,
  CommandState | null,
  CommandState,
  number,
  string | null,
  string | null,
  string | null,
  CommandError | null,
  /** Absent when the transition changed nothing besides the state. */
  AuditDetails?,
];

/**
 * The trail of one command in the shape every backend returns: the send (derived from
 * the command), then each stored entry (an attempt reads back as its claim and its end),
 * then the claim of an attempt still running.
 */
export function toAuditTrail(
  command: Command,
  stored: string | null,
  startedAt: string | null,
): AuditRecord[] {
  const records = [sentRecord(command)];
  for (const line of stored ? stored.split('\n') : []) {
    const [at, started, from, to, attempt, worker, actor, reason, error, details] = JSON.parse(
      line,
    ) as AuditEntry;
    records.push(
      ...toAuditRecords({
        command_id: command.id,
        at: new Date(at),
        started_at: started === null ? null : new Date(started),
        from_state: from,
        to_state: to,
        attempt,
        worker_id: worker,
        actor,
        reason,
        error,
        details,
      }),
    );
  }
  if (command.state === 'in_progress' && startedAt) {
    records.push({
      commandId: command.id,
      at: date(startedAt),
      fromState: 'pending',
      toState: 'in_progress',
      attempt: command.attempts,
      workerId: command.workerId,
      actor: null,
      reason: 'claimed',
      error: null,
    });
  }
  return records;
}
