import type {
  AuditRecord,
  ClaimedCommand,
  Command,
  CommandError,
  JsonValue,
} from '../../core/command.js';
import type { CommandState } from '../../core/states.js';
import { sentRecord, toAuditRecords } from '../sql/rows.js';

/**
 * A command as the scripts return it: its id, then the hash fields in COMMAND_FIELDS
 * order (null where a field is absent).
 */
export type CommandReply = [string, ...(string | null)[]];

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
  const [id, t, s, d, p, a, m, r, c, u, , le, w, , co, ca, b, k, res, e, pm, h] = reply;
  return {
    id,
    domain,
    type: t!,
    data: json<JsonValue>(d) as JsonValue,
    state: s as CommandState,
    priority: num(p),
    attempts: num(a),
    maxAttempts: maxAttempts(m, pm),
    runAt: date(r),
    createdAt: date(c),
    updatedAt: date(u),
    correlationId: co ?? null,
    causationId: ca ?? null,
    batchId: b ?? null,
    idempotencyKey: k ?? null,
    headers: headers(h),
    lastError: json<CommandError>(e),
    result: json<JsonValue>(res),
    workerId: w ?? null,
    leaseExpiresAt: le ? date(le) : null,
  };
}

/**
 * A claimed command as the claim script returns it: CLAIM_FIELDS (keys.ts) with the id in
 * the state's place, the attempt counted and the max attempts resolved. What the claim wrote (state, lease, worker,
 * update time) comes from the claim's own parameters and the server time it returned.
 */
export type ClaimReply = [string, ...(string | null)[]];

/**
 * Written out rather than built on toCommand: this runs once per claimed command, and one
 * object literal of one shape is the cheapest thing to make (no intermediate copy).
 */
export function toClaimed(
  domain: string,
  row: ClaimReply,
  claim: { now: number; leaseMs: number; leaseToken: string; workerId: string },
): ClaimedCommand {
  const [id, t, d, p, a, m, r, c, co, ca, b, k, res, e, h] = row;
  return {
    id,
    domain,
    type: t!,
    data: json<JsonValue>(d) as JsonValue,
    state: 'in_progress',
    priority: num(p),
    attempts: num(a),
    maxAttempts: num(m),
    runAt: date(r),
    createdAt: date(c),
    updatedAt: new Date(claim.now),
    correlationId: co ?? null,
    causationId: ca ?? null,
    batchId: b ?? null,
    idempotencyKey: k ?? null,
    headers: headers(h),
    lastError: json<CommandError>(e),
    result: json<JsonValue>(res),
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
    const [at, started, from, to, attempt, worker, actor, reason, error] = JSON.parse(
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
