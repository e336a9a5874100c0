/**
 * Deduplication of stream events in SQL (table in migration 013), for PostgreSQL and
 * PGlite. Expired rows are purged by the writes themselves, a bounded slice per write,
 * since a process that only consumes streams runs none of the workers' maintenance; the
 * store's prune purges a slice too, for a consumer that has gone quiet.
 */
import type { Queryable } from '../backend.js';
import type { DedupStore } from '../roles/dedup.js';

/** Expired rows deleted per remember, at least: more than one call adds, so none pile up. */
const PURGE_AT_LEAST = 100;

export class SqlDedupStore implements DedupStore {
  private readonly seen: string;
  private readonly remember: string;
  /** Deletes up to $1 expired rows (run by the store's prune too). */
  readonly purge: string;

  constructor(
    private readonly db: Queryable,
    schema: string,
  ) {
    const t = `"${schema}"`;
    this.seen = `
SELECT event_id FROM ${t}.stream_dedup
WHERE scope = $1 AND event_id = ANY($2::text[]) AND expires_at > clock_timestamp()`;
    const expired = (limit: string, spare: string) => `
DELETE FROM ${t}.stream_dedup WHERE ctid = ANY(ARRAY(
  SELECT ctid FROM ${t}.stream_dedup WHERE expires_at <= clock_timestamp()${spare}
  LIMIT ${limit} FOR UPDATE SKIP LOCKED))`;
    this.purge = expired('$1', '');
    // An id recorded and not expired is kept as it is; an expired one not purged yet is
    // recorded again. Sorted, so that two consumers recording the same ids never wait on
    // each other in a cycle. The purge spares the ids written here: one statement must not
    // both delete and update a row.
    this.remember = `
WITH purged AS (${expired('$4', ` AND NOT (scope = $1 AND event_id = ANY($2::text[]))`)})
INSERT INTO ${t}.stream_dedup AS d (scope, event_id, expires_at)
SELECT $1, ids.id, clock_timestamp() + $3 * interval '1 millisecond'
FROM (SELECT DISTINCT unnest($2::text[]) AS id) ids ORDER BY ids.id
ON CONFLICT (scope, event_id) DO UPDATE SET expires_at = EXCLUDED.expires_at
WHERE d.expires_at <= clock_timestamp()`;
  }

  async seenEvents(scope: string, ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const result = await this.db.query<{ event_id: string }>(this.seen, [scope, ids]);
    return new Set(result.rows.map((r) => r.event_id));
  }

  async rememberEvents(scope: string, ids: string[], ttlMs: number): Promise<void> {
    if (ids.length === 0) return;
    await this.db.query(this.remember, [
      scope,
      ids,
      Math.max(0, Math.round(ttlMs)),
      Math.max(PURGE_AT_LEAST, 2 * ids.length),
    ]);
  }
}
