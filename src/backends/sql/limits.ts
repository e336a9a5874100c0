/**
 * Rate limits and concurrency caps in SQL, shared by every worker of a PostgreSQL or
 * PGlite store (tables in migration 002). Time is always the database's clock, so
 * workers on machines with skewed clocks still share one bucket fairly.
 */
import type {
  AcquireSlotParams,
  ReleaseSlotParams,
  TakeTokenParams,
  TakeTokenResult,
} from '../backend.js';
import type { SqlDriver } from './driver.js';

export class LimitStore {
  private readonly take: string;
  private readonly acquire: string;
  private readonly release: string;
  private readonly pruneBuckets: string;
  private readonly pruneSlots: string;

  constructor(
    private readonly driver: SqlDriver,
    private readonly schema: string,
  ) {
    const t = `"${schema}"`;
    // One statement: the upsert locks the row, so concurrent takes of one key queue on it
    // and each sees the one before. A bucket seen for the first time starts full.
    //
    // The refill runs to the moment the row lock is held (clock_timestamp() read inside
    // the SET, once), not to the statement's start: a take that queued 300 ms behind
    // others (slow commits under load) and was credited only up to its start would hand
    // out tokens of the past while the next take credits those 300 ms again, and at 20/s
    // six extra handlers would start in that second. Never backwards: a clock step back
    // must not credit time twice.
    this.take = `
INSERT INTO ${t}.rate_limit_buckets AS b (key, tokens, capacity, per_token_ms, updated_at, granted)
VALUES ($1, $2::float8 - 1, $2::float8, $3::float8, clock_timestamp(), true)
ON CONFLICT (key) DO UPDATE SET (tokens, granted, capacity, per_token_ms, updated_at) = (
  SELECT CASE WHEN r.tokens >= 1 THEN r.tokens - 1 ELSE r.tokens END, r.tokens >= 1,
    EXCLUDED.capacity, EXCLUDED.per_token_ms, r.at
  FROM (
    SELECT least(EXCLUDED.capacity, b.tokens + greatest(0,
        extract(epoch FROM n.at - b.updated_at)::float8 * 1000) / EXCLUDED.per_token_ms) AS tokens,
      greatest(b.updated_at, n.at) AS at
    FROM (SELECT clock_timestamp() AS at) n
  ) r)
RETURNING granted,
  CASE WHEN granted THEN 0 ELSE greatest(1, ceil((1 - tokens) * per_token_ms)) END AS retry_after_ms`;

    // Runs after the key's advisory lock, in the same transaction, so its snapshot sees
    // every slot committed before it: no two acquires of one key count at once. The
    // holder's own expired row is left to the upsert (a statement may not touch a row twice).
    this.acquire = `
WITH expired AS (
  DELETE FROM ${t}.concurrency_slots
  WHERE key = $1 AND holder <> $2 AND expires_at <= statement_timestamp()
), others AS (
  SELECT count(*) AS n FROM ${t}.concurrency_slots
  WHERE key = $1 AND holder <> $2 AND expires_at > statement_timestamp()
)
INSERT INTO ${t}.concurrency_slots (key, holder, expires_at)
SELECT $1, $2, statement_timestamp() + $4 * interval '1 millisecond' FROM others WHERE others.n < $3
ON CONFLICT (key, holder) DO UPDATE SET expires_at = EXCLUDED.expires_at
RETURNING holder`;

    this.release = `DELETE FROM ${t}.concurrency_slots WHERE key = $1 AND holder = $2`;
    // A bucket idle long enough to be full is the same as no bucket: a new one starts full.
    this.pruneBuckets = `
DELETE FROM ${t}.rate_limit_buckets
WHERE updated_at + (capacity - tokens) * per_token_ms * interval '1 millisecond' < now()`;
    // Skips slots another transaction holds: an acquire deletes the expired slots of its
    // key in its own order, and a prune that waited for one of them while holding another
    // that the acquire wants would deadlock with it. A skipped slot goes at the next prune.
    this.pruneSlots = `
DELETE FROM ${t}.concurrency_slots WHERE ctid = ANY(ARRAY(
  SELECT ctid FROM ${t}.concurrency_slots WHERE expires_at < now() FOR UPDATE SKIP LOCKED))`;
  }

  async takeToken(params: TakeTokenParams): Promise<TakeTokenResult> {
    const result = await this.driver.query<{ granted: boolean; retry_after_ms: number | string }>(
      this.take,
      [params.key, params.capacity, params.perMs / params.limit],
    );
    const row = result.rows[0]!;
    return { granted: row.granted, retryAfterMs: Number(row.retry_after_ms) };
  }

  acquireSlot(params: AcquireSlotParams): Promise<boolean> {
    return this.driver.transaction(async (tx) => {
      await tx.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [
        `dispatchbox:slot:${this.schema}:${params.key}`,
      ]);
      const result = await tx.query<{ holder: string }>(this.acquire, [
        params.key,
        params.holder,
        params.limit,
        params.leaseMs,
      ]);
      return result.rows.length > 0;
    });
  }

  async releaseSlot(params: ReleaseSlotParams): Promise<void> {
    await this.driver.query(this.release, [params.key, params.holder]);
  }

  /** Forgets full buckets and expired slots; part of retention. */
  async prune(): Promise<void> {
    await this.driver.query(this.pruneBuckets);
    await this.driver.query(this.pruneSlots);
  }
}
