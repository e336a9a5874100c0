import { COPY_COLUMNS } from './copy.js';
import { countCopied, countInserted, countMoved } from './counts.js';

/**
 * What a claim brings back: what the handler and the worker use. Every timestamp column
 * costs a date parse per row on the client, so the claim's own times (updated, lease) are
 * not read back but known (see toClaimed), nor are its lease token and worker id.
 */
const CLAIMED_COLUMNS = `c.id, c.domain, c.type, c.data, c.priority, c.attempts,
  coalesce(c.max_attempts, c.policy_max_attempts) AS max_attempts, c.created_at,
  c.correlation_id, c.causation_id, c.batch_id, c.idempotency_key, c.last_error, c.headers`;

/** A command's run_at: the one given, else the statement's now() plus the delay. */
const runAt = (given: string, delayMs: string) =>
  `coalesce(${given}, now() + ${delayMs} * interval '1 millisecond')`;

/** The insert's reply where no command can have been refused (see insert): wake is in scope. */
const NONE_MISSING =
  'SELECT now() AS at, (SELECT count(*) FROM wake) AS woken, NULL::uuid[] AS missing';

/**
 * The audit record of each refused outcome, written by the statement that refused it: a
 * late worker's outcome changes nothing, but the trail shows which attempt on which worker
 * tried to write what, and why it was refused. `source` is a FROM item `s` (id, token,
 * attempt, kind, error) and `refusedOnly` picks its refused rows. The reason is read from the
 * command as the statement found it: another attempt's token (stale token), out of
 * in_progress (not in progress: the lease expired and was recovered, or an operator or
 * another attempt moved it), or still under this token, so that the row changed while
 * the statement waited for it (lease lost). The command's state stays as it was: the
 * record goes from it to it.
 */
function refusedAudit(t: string, workerId: string, source: string, refusedOnly: string): string {
  return `refused AS (
  INSERT INTO ${t}.audit (command_id, from_state, to_state, attempt, worker_id, reason, error)
  SELECT c.id, c.state, c.state, r.attempt, ${workerId}, 'late outcome refused (' || r.why || ')',
    jsonb_build_object('code', 'LATE_OUTCOME_REFUSED',
      'message', format('%s of attempt %s refused: %s', r.outcome, r.attempt,
        CASE r.why WHEN 'stale token' THEN format('attempt %s holds the command now (worker %s)',
                                                  c.attempts, c.worker_id)
                   WHEN 'not in progress' THEN format('the command is %s now', c.state)
                   ELSE 'the lease was lost while it was written' END),
      'details', jsonb_strip_nulls(jsonb_build_object('outcome', r.outcome, 'error', s.error)))
  FROM ${source} JOIN ${t}.commands c ON c.id = s.id,
    LATERAL (SELECT
      CASE WHEN c.state <> 'in_progress' THEN 'not in progress'
           WHEN c.lease_token IS DISTINCT FROM s.token THEN 'stale token'
           ELSE 'lease lost' END AS why,
      CASE s.kind WHEN 'complete' THEN 'completed' WHEN 'troubleshoot' THEN 'troubleshooting'
                  WHEN 'release' THEN 'released' ELSE s.kind END AS outcome,
      -- an attempt the caller left out is recorded as 0 rather than fail the whole flush
      coalesce(s.attempt, 0) AS attempt) r
  WHERE ${refusedOnly}
)`;
}

/**
 * In a settle of `count` outcomes: those that `done` did not apply. The count test is a
 * one-time filter: when every outcome was applied, the refusal's scan and join never run,
 * and neither does its `source`, which reads the statement's parameter again rather than
 * share a CTE with `done` (a CTE used twice is materialised: a copy of every row of every
 * flush, for the rare flush with a refusal).
 */
const notDone = (count: string) => `(SELECT count(*) FROM done) < ${count}
    AND NOT EXISTS (SELECT 1 FROM done WHERE done.id = s.id AND done.token = s.token)`;

/** The columns of a settle's JSON rows. */
const SETTLE_ROW = `s(id uuid, token uuid, attempt int, kind text, result jsonb, error jsonb,
    delay_ms bigint, reason text)`;

/**
 * The SQL of the hot path, one statement per operation, built once per schema.
 *
 * Batches travel as one JSON parameter expanded by json_to_recordset: the same text
 * works through node-postgres and PGlite, and 1,000 rows cost one round trip and one
 * plan.
 *
 * A lease token is set only by a claim and cleared by every way out of in_progress
 * (settle, recovery, operator), so the writes fenced by a token test the token alone and
 * not the state. Testing `state = 'in_progress'` as well let the planner pick the partial
 * lease index, which statistics taken while nothing ran describe as empty, and scan every
 * dead entry in it once per flush: a drain fell from 28,000 to 2,400 commands a second and
 * leases expired under the backlog. By id, each settlement is one primary-key lookup.
 *
 * Every transition writes its audit row in the same statement (a data-modifying
 * CTE), so the audit can never disagree with the state, except two whose record is the
 * command row itself: the send (created_at) and a worker's completion, after which the
 * row never changes again (an insert and an index entry fewer per command, 16% less WAL
 * in a drain). A refused outcome is audited by the settle that refuses it (refusedAudit).
 */
export class CommandQueries {
  readonly insert: string;
  /** insert for commands whose ids the bus made and that carry no idempotency key. */
  readonly insertFresh: string;
  /** insertFresh for one command, its fields as parameters (see oneFreshParams). */
  readonly insertOneFresh: string;
  /** Wakes the workers of the domains in $1 (text[]), at commit. */
  readonly wakeDomains: string;
  /** The table and columns of a COPY of commands (copy.ts), and what follows it (a row like insert's). */
  readonly copyTarget: string;
  readonly afterCopy: string;
  /**
   * Wakes the domains in $1 and counts the commands that COPY sent in the transaction
   * ($2-$4: CopyTally.params), at the end of a batch.
   */
  readonly afterBatch: string;
  /** The insert for batch chunks: no rows back, no wake-up (the batch wakes once, at commit). */
  readonly insertQuiet: string;
  readonly insertQuietFresh: string;
  readonly findExisting: string;
  readonly claimAnyType: string;
  readonly claimTypes: string;
  readonly settle: string;
  /** settle for a flush of completions without results, the common case. */
  readonly settleCompleted: string;
  /** Audits an outcome refused inside a transaction that was then rolled back. */
  readonly refuse: string;
  readonly renew: string;
  readonly recover: string;
  readonly getCommand: string;
  readonly getAudit: string;

  constructor(
    readonly schema: string,
    readonly channel: string,
  ) {
    const t = `"${schema}"`;
    // `ON CONFLICT DO NOTHING` makes every row a speculative insertion: a probe of each
    // unique index before the heap insert, and a confirmation record after it. It is
    // needed only where a row may exist already, that is when the caller chose the id or
    // gave an idempotency key; an id the bus made (a UUIDv7) cannot collide. Without it a
    // bulk send is 10-19% faster on the embedded store. json_to_recordset reads a payload
    // that is JSON null as SQL NULL: coalesce stores it as JSON null, as the single insert
    // and COPY do.
    const insertInto = (returning: string, onConflict = true) => `
WITH x AS (
  SELECT * FROM json_to_recordset($1::json) AS x(
    id uuid, domain text, type text, data json, priority int, max_attempts int,
    delay_ms bigint, run_at timestamptz, correlation_id text, causation_id uuid,
    batch_id uuid, idempotency_key text, headers jsonb)
), ins AS (
  INSERT INTO ${t}.commands (id, domain, type, data, priority, max_attempts, run_at,
    correlation_id, causation_id, batch_id, idempotency_key, headers)
  SELECT id, domain, type, coalesce(data, 'null'), priority, max_attempts,
    ${runAt('run_at', 'delay_ms')},
    correlation_id, causation_id, batch_id, idempotency_key, headers
  FROM x
  ${onConflict ? 'ON CONFLICT DO NOTHING' : ''}
  RETURNING ${returning}
)`;
    // One row comes back, not one per command: the statement's now() (every row's
    // created_at, and run_at is now() + delay when none was given) and the ids that were
    // not inserted because the id or idempotency key existed. The rest of each command is
    // what the sender sent. Returning a row per command cost two timestamps to format
    // and parse per command, a sixth of a bulk send on the embedded store.
    const insert = (
      onConflict: boolean,
    ) => `${insertInto('id, domain, type, run_at', onConflict)}, ${countInserted(t, 'ins')}, wake AS (
  SELECT pg_notify('${this.channel}', d.domain)
  FROM (SELECT DISTINCT domain FROM ins WHERE run_at <= now()) d
)
SELECT now() AS at, (SELECT count(*) FROM wake) AS woken,
  CASE WHEN (SELECT count(*) FROM ins) = (SELECT count(*) FROM x) THEN NULL
       ELSE ARRAY(SELECT x.id FROM x WHERE NOT EXISTS (SELECT 1 FROM ins WHERE ins.id = x.id))
  END AS missing`;
    this.insert = insert(true);
    this.insertFresh = insert(false);
    // The common send, one command at a time, without the JSON array: decoding it was a
    // tenth of the statement's time on an idle server (0.41-0.59 against 0.45-0.67 ms p50
    // at one send every 5 ms), and that time is part of every send's latency.
    this.insertOneFresh = `
WITH ins AS (
  INSERT INTO ${t}.commands (id, domain, type, data, priority, max_attempts, run_at,
    correlation_id, causation_id, batch_id, headers)
  VALUES ($1::uuid, $2::text, $3::text, $4::json, $5::int, $6::int,
    ${runAt('$7::timestamptz', '$8::bigint')},
    $9::text, $10::uuid, $11::uuid, $12::jsonb)
  RETURNING domain, run_at
), counted AS (
  INSERT INTO ${t}.command_counts (domain, type, state, n) VALUES ($2, $3, 'pending', 1)
), wake AS (
  SELECT pg_notify('${this.channel}', domain) FROM ins WHERE run_at <= now()
)
${NONE_MISSING}`;
    const insertQuiet = (onConflict: boolean) => `${insertInto('domain, type', onConflict)},
${countInserted(t, 'ins')}
SELECT count(*)::int AS n FROM ins`;
    this.wakeDomains = `SELECT pg_notify('${this.channel}', d) FROM unnest($1::text[]) AS d`;
    this.copyTarget = `${t}.commands ${COPY_COLUMNS}`;
    this.afterCopy = `
WITH wake AS (${this.wakeDomains}), ${countCopied(t, 2)}
${NONE_MISSING}`;
    this.afterBatch = `WITH ${countCopied(t, 2)}\n${this.wakeDomains}`;
    this.insertQuiet = insertQuiet(true);
    this.insertQuietFresh = insertQuiet(false);

    this.findExisting = `
SELECT c.* FROM ${t}.commands c
WHERE c.id = ANY($1::uuid[])
   OR (c.idempotency_key IS NOT NULL AND (c.domain, c.idempotency_key) IN (
        SELECT * FROM json_to_recordset($2::json) AS k(domain text, key text)))`;

    // A claim commits asynchronously (synchronous_commit off for its own transaction): it
    // returns once the commit is visible, not once its WAL is on disk. If the server
    // crashes before the flush, the claim is lost and the command is pending again, to be
    // claimed and run again: at-least-once still holds, and the worker's outcome for the
    // lost claim is refused as stale. Everything that must survive a crash once answered
    // (sends, outcomes, operator actions) commits synchronously, and flushes the WAL of
    // the claims before it. The wait for the disk was half of a claim's time: the send to
    // handler latency fell from 1.47 to 0.86 ms (p50) and the drain rose by a quarter.
    //
    // policy_max_attempts is the claiming worker's handler policy for the row's type ($6
    // types, $7 their max attempts, $8 every other type's), which applies when the send
    // named none (max_attempts NULL); recover reads it when the lease expires.
    //
    // The claim is counted from the rows it locked (picked), every one of which it then
    // updates: counting from the UPDATE's rows would keep each claimed command, payload
    // and all, in a CTE once more (picked, locked, is kept anyway).
    const claim = (typeFilter: string) => `
WITH picked AS (
  SELECT id, domain, type FROM ${t}.commands
  WHERE state = 'pending' AND domain = $1 AND run_at <= now() ${typeFilter}
  ORDER BY priority DESC, run_at, id
  LIMIT $2
  FOR UPDATE SKIP LOCKED
), ${countMoved(t, 'picked', 'pending', "'in_progress'")}
UPDATE ${t}.commands c
SET state = 'in_progress', attempts = c.attempts + 1, lease_token = $3,
    lease_expires_at = now() + $4 * interval '1 millisecond', worker_id = $5,
    started_at = now(), updated_at = now(),
    policy_max_attempts = coalesce(($7::int[])[array_position($6::text[], c.type)], $8::int)
FROM picked, (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit
WHERE c.id = picked.id
RETURNING ${CLAIMED_COLUMNS}`;
    this.claimAnyType = claim('');
    this.claimTypes = claim('AND type = ANY($9::text[])');

    // kind: complete | retry | troubleshoot | release. A release gives the attempt back.
    // $2: the worker whose outcomes these are, recorded with any refused.
    this.settle = `
WITH s AS (
  SELECT * FROM json_to_recordset($1::json) AS ${SETTLE_ROW}
), done AS (
  UPDATE ${t}.commands c SET
    state = CASE s.kind WHEN 'complete' THEN 'completed'
                        WHEN 'troubleshoot' THEN 'troubleshooting'
                        ELSE 'pending' END,
    attempts = CASE WHEN s.kind = 'release' THEN c.attempts - 1 ELSE c.attempts END,
    result = CASE WHEN s.kind = 'complete' THEN s.result ELSE c.result END,
    last_error = CASE WHEN s.kind IN ('retry', 'troubleshoot') THEN s.error ELSE c.last_error END,
    run_at = CASE WHEN s.kind IN ('retry', 'release')
                  THEN now() + s.delay_ms * interval '1 millisecond' ELSE c.run_at END,
    lease_token = NULL, lease_expires_at = NULL, updated_at = now()
  FROM s
  WHERE c.id = s.id AND c.lease_token = s.token
  RETURNING c.id, s.token, c.state, c.attempts, c.batch_id, c.started_at, c.worker_id, c.domain,
    c.type, s.kind, s.error, s.reason, s.delay_ms
), ${countMoved(t, 'done', 'in_progress')}, audit AS (
  INSERT INTO ${t}.audit (command_id, started_at, from_state, to_state, attempt, worker_id, reason, error)
  SELECT id, started_at, 'in_progress', state,
    CASE WHEN kind = 'release' THEN attempts + 1 ELSE attempts END, worker_id,
    coalesce(reason, CASE kind WHEN 'complete' THEN 'succeeded'
                               WHEN 'retry' THEN 'failed; will retry'
                               ELSE 'failed; needs an operator' END),
    error
  FROM done
  -- a worker's completion is the row's last change: its record is derived from the row
  -- (started_at, updated_at, attempts, worker_id): the audit_trail view (migration 3)
  WHERE kind <> 'complete'
), ${refusedAudit(t, '$2::text', `json_to_recordset($1::json) AS ${SETTLE_ROW}`, notDone('json_array_length($1::json)'))}, wake AS (
  SELECT pg_notify('${this.channel}', d.domain)
  FROM (SELECT DISTINCT domain FROM done WHERE state = 'pending' AND delay_ms = 0) d
)
SELECT id, state, batch_id, (SELECT count(*) FROM wake) AS woken FROM done`;

    // Arrays instead of a JSON recordset (ids, tokens, attempts; $4 the worker), and none
    // of the general statement's CASEs, audit or wake-up (a completion is audited on its
    // row and wakes no one): measured, 22% less backend CPU per flush of 500.
    this.settleCompleted = `
WITH done AS (
  UPDATE ${t}.commands c
  SET state = 'completed', lease_token = NULL, lease_expires_at = NULL, updated_at = now()
  FROM unnest($1::uuid[], $2::uuid[]) AS s(id, token)
  WHERE c.id = s.id AND c.lease_token = s.token
  RETURNING c.id, s.token, c.batch_id, c.domain, c.type
), ${countMoved(t, 'done', 'in_progress', "'completed'")}, ${refusedAudit(
      t,
      '$4::text',
      `(SELECT *, 'complete'::text AS kind, NULL::jsonb AS error
    FROM unnest($1::uuid[], $2::uuid[], $3::int[]) AS u(id, token, attempt)) s`,
      notDone('cardinality($1::uuid[])'),
    )}
SELECT id, batch_id FROM done`;

    // After a transactional completion was refused and rolled back with the handler's
    // writes: the same record, for a completion whose token is not the command's.
    this.refuse = `
WITH s AS (
  SELECT $1::uuid AS id, $2::uuid AS token, $3::int AS attempt, 'complete'::text AS kind,
    NULL::jsonb AS error
), ${refusedAudit(t, '$4::text', 's', 'c.lease_token IS DISTINCT FROM s.token')}
SELECT 1`;

    // A renewal never waits for a row lock: it renews the leases it can lock at once and
    // skips those another statement holds. Waiting made it one side of a deadlock with
    // the worker's own outcome flushes, which lock the same rows in completion order
    // while a renewal locks them in the order it names them (measured: 3 to 21 deadlocks
    // in 12 s of six workers renewing every 100 ms with rate-limited handlers; each cost
    // a renewal or a flush). A skipped row is locked by a settle that is ending the lease
    // anyway, by a heartbeat renewing it, or by the recovery taking it, which the next
    // renewal reports as lost; so it is reported as held when the statement's snapshot
    // still shows it under its token. Ids come back for the leases still held.
    this.renew = `
WITH l AS (
  SELECT * FROM json_to_recordset($1::json) AS l(id uuid, token uuid)
), lockable AS (
  SELECT c.id FROM ${t}.commands c JOIN l ON c.id = l.id AND c.lease_token = l.token
  FOR UPDATE OF c SKIP LOCKED
), renewed AS (
  UPDATE ${t}.commands c
  SET lease_expires_at = now() + $2 * interval '1 millisecond'
  FROM lockable WHERE c.id = lockable.id
)
SELECT c.id FROM ${t}.commands c JOIN l ON c.id = l.id AND c.lease_token = l.token`;

    this.recover = `
WITH expired AS (
  SELECT id FROM ${t}.commands
  WHERE state = 'in_progress' AND lease_expires_at < now()
  ORDER BY lease_expires_at
  LIMIT $1
  FOR UPDATE SKIP LOCKED
), moved AS (
  UPDATE ${t}.commands c SET
    -- the send's max attempts, else the handler policy the claim wrote
    state = CASE WHEN c.attempts >= coalesce(c.max_attempts, c.policy_max_attempts)
                 THEN 'troubleshooting' ELSE 'pending' END,
    last_error = jsonb_build_object('code', 'LEASE_EXPIRED',
      'message', 'the worker stopped renewing its lease (crashed, hung or cut off)'),
    lease_token = NULL, lease_expires_at = NULL, run_at = now(), updated_at = now()
  FROM expired WHERE c.id = expired.id
  RETURNING c.id, c.state, c.attempts, c.batch_id, c.started_at, c.worker_id, c.domain, c.type,
    c.last_error
), ${countMoved(t, 'moved', 'in_progress')}, audit AS (
  INSERT INTO ${t}.audit (command_id, started_at, from_state, to_state, attempt, worker_id, actor, reason, error)
  SELECT id, started_at, 'in_progress', state, attempts, worker_id, 'system', 'lease expired', last_error
  FROM moved
), wake AS (
  SELECT pg_notify('${this.channel}', d.domain)
  FROM (SELECT DISTINCT domain FROM moved WHERE state = 'pending') d
)
SELECT id, state, batch_id, (SELECT count(*) FROM wake) AS woken FROM moved`;

    this.getCommand = `SELECT * FROM ${t}.commands WHERE id = $1`;
    this.getAudit = `SELECT * FROM ${t}.audit_trail WHERE command_id = $1 ORDER BY id NULLS LAST`;
  }
}
