/**
 * The outbox in SQL (tables in migration 013), for PostgreSQL and PGlite: events written
 * in the application's transaction, read and deleted by the relay holding the lease.
 */
import type { Queryable } from '../backend.js';
import type {
  NewOutboxEvent,
  OutboxClaim,
  OutboxEvent,
  OutboxStats,
  OutboxStore,
} from '../roles/outbox.js';

interface EventRow {
  seq: string;
  id: string;
  topic: string;
  key: string;
  type: string;
  data_json: string;
  headers: Record<string, string> | null;
  correlation_id: string | null;
  causation_id: string | null;
  created_at: Date;
  attempts: number;
}

export class SqlOutboxStore implements OutboxStore {
  private readonly append: string;
  private readonly takeLease: string;
  private readonly read: string;
  private readonly remove: string;
  private readonly fail: string;
  private readonly release: string;
  private readonly count: string;

  constructor(
    private readonly db: Queryable,
    schema: string,
  ) {
    const t = `"${schema}"`;
    // Each (topic, key) is locked until the writing transaction ends, before its events
    // take their seq: two transactions publishing for one key then take their seqs in the
    // order they commit. Without it, one could take seq 1, the other seq 2 and commit
    // first, and the relay would deliver 2 before 1 became visible: the key out of order.
    // The locks are taken in one order (sorted), so that two publishes of several keys do
    // not wait on each other in a cycle. The two-key form, its first key this schema's,
    // stays clear of the application's own one-key advisory locks and of other schemas.
    // A repeated id (a publish retried with the same id) is stored once. The payload null
    // reads as SQL NULL from json_to_recordset, hence the coalesce.
    this.append = `
WITH locks AS MATERIALIZED (
  SELECT count(*) FROM (
    SELECT DISTINCT hashtext(x.topic || E'\\n' || x.key) AS k
    FROM json_to_recordset($1::json) AS x(topic text, key text) ORDER BY 1) keys,
    LATERAL (SELECT pg_advisory_xact_lock(hashtext('dispatchbox:outbox:${schema}'), keys.k)) l
)
INSERT INTO ${t}.outbox_events
  (id, topic, key, type, data, headers, correlation_id, causation_id, created_at)
SELECT x.id, x.topic, x.key, x.type, coalesce(x.data, 'null'), x.headers, x.correlation_id,
  x.causation_id, x.created_at
FROM locks, ROWS FROM (json_to_recordset($1::json) AS (id uuid, topic text, key text,
  type text, data json, headers jsonb, correlation_id text, causation_id text,
  created_at timestamptz)) WITH ORDINALITY AS x(id, topic, key, type, data, headers,
  correlation_id, causation_id, created_at, n)
ORDER BY x.n
ON CONFLICT (id) DO NOTHING`;
    // The lease and the read are two statements: the read's snapshot is taken after the
    // lease is held, so it sees every delete of the relay that held it before.
    this.takeLease = `
UPDATE ${t}.outbox_relay_lease
SET holder = $1, expires_at = clock_timestamp() + $2 * interval '1 millisecond'
WHERE holder = $1 OR expires_at < clock_timestamp()
RETURNING holder`;
    // ORDER BY the table's column, not the text output column of the same name (which
    // would sort 10 before 9).
    this.read = `
SELECT seq::text AS seq, id, topic, key, type, data::text AS data_json, headers,
  correlation_id, causation_id, created_at, attempts
FROM ${t}.outbox_events e ORDER BY e.seq LIMIT $1`;
    // FOR SHARE: a relay taking the lease over waits for this write to end, and then reads
    // without the events it deleted. The lease holder may write past its expiry as long as
    // no other relay has taken the lease: nothing is delivered twice by it.
    const held = `held AS MATERIALIZED (
  SELECT 1 FROM ${t}.outbox_relay_lease WHERE holder = $1 FOR SHARE)`;
    this.remove = `
WITH ${held}, gone AS (
  DELETE FROM ${t}.outbox_events WHERE seq = ANY($2::bigint[]) AND EXISTS (SELECT 1 FROM held))
SELECT EXISTS (SELECT 1 FROM held) AS held`;
    this.fail = `
WITH ${held}
UPDATE ${t}.outbox_events SET attempts = attempts + 1
WHERE seq = ANY($2::bigint[]) AND EXISTS (SELECT 1 FROM held)`;
    this.release = `
UPDATE ${t}.outbox_relay_lease SET holder = NULL, expires_at = '-infinity' WHERE holder = $1`;
    this.count = `
SELECT count(*) AS pending, min(created_at) AS oldest FROM ${t}.outbox_events`;
  }

  async appendEvents(events: NewOutboxEvent[], tx?: Queryable): Promise<void> {
    if (events.length === 0) return;
    await (tx ?? this.db).query(this.append, [eventsJson(events)]);
  }

  async claimEvents(params: {
    relayId: string;
    leaseMs: number;
    limit: number;
  }): Promise<OutboxClaim | null> {
    const lease = await this.db.query(this.takeLease, [params.relayId, params.leaseMs]);
    if (lease.rows.length === 0) return null;
    const result = await this.db.query<EventRow>(this.read, [params.limit]);
    return { events: result.rows.map(toEvent) };
  }

  async markDelivered(params: { relayId: string; seqs: string[] }): Promise<boolean> {
    const result = await this.db.query<{ held: boolean }>(this.remove, [
      params.relayId,
      params.seqs,
    ]);
    return result.rows[0]?.held === true;
  }

  async markFailed(params: { relayId: string; seqs: string[] }): Promise<void> {
    if (params.seqs.length === 0) return;
    await this.db.query(this.fail, [params.relayId, params.seqs]);
  }

  async releaseLease(relayId: string): Promise<void> {
    await this.db.query(this.release, [relayId]);
  }

  /** Counts every waiting event: a scan of the outbox, which a relay keeps short. */
  async stats(): Promise<OutboxStats> {
    const result = await this.db.query<{ pending: string | number; oldest: Date | null }>(
      this.count,
    );
    const row = result.rows[0];
    return {
      pending: Number(row?.pending ?? 0),
      oldestCreatedAt: row?.oldest ? new Date(row.oldest) : null,
    };
  }
}

/**
 * The events as one JSON array for json_to_recordset; each payload is JSON text already
 * (serialised once, when checked), spliced in rather than parsed and serialised again.
 */
function eventsJson(events: NewOutboxEvent[]): string {
  const rows = events.map((e) => {
    const fields = JSON.stringify({
      id: e.id,
      topic: e.topic,
      key: e.key,
      type: e.type,
      headers: e.headers,
      correlation_id: e.correlationId,
      causation_id: e.causationId,
      created_at: e.createdAt.toISOString(),
    });
    return `${fields.slice(0, -1)},"data":${e.dataJson}}`;
  });
  return `[${rows.join(',')}]`;
}

function toEvent(row: EventRow): OutboxEvent {
  return {
    seq: row.seq,
    id: row.id,
    topic: row.topic,
    key: row.key,
    type: row.type,
    dataJson: row.data_json,
    headers: row.headers,
    correlationId: row.correlation_id,
    causationId: row.causation_id,
    createdAt: new Date(row.created_at),
    attempts: row.attempts,
  };
}
