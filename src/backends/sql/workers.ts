/**
 * The worker registry in SQL (table in migration 008), for PostgreSQL and PGlite. Times
 * are the database's clock. A row past `expires_at` is deleted by the next refresh or
 * listing, a bounded slice at a time, skipping rows another session holds so that
 * workers refreshing together never wait on each other.
 */
import type { Queryable } from '../backend.js';
import {
  checkStop,
  checkUpsert,
  MAX_LISTED_WORKERS,
  workerStatus,
  type StopWorkerParams,
  type UpsertWorkerParams,
  type WorkerEntry,
  type WorkerRegistryStore,
} from '../worker-registry.js';

/** Forgotten rows deleted per refresh or listing. */
const FORGET_PER_CALL = 100;

interface WorkerRow {
  id: string;
  host: string;
  pid: number;
  domains: string[];
  types: string[] | null;
  concurrency: number;
  version: string;
  counters: Record<string, number>;
  started_at: Date;
  last_seen_at: Date;
  stale_after_ms: number;
  stopped_at: Date | null;
  silent_ms: number | string;
}

export class SqlWorkerRegistry implements WorkerRegistryStore {
  private readonly upsert: string;
  private readonly stop: string;
  private readonly remove: string;
  private readonly list: string;

  constructor(
    private readonly db: Queryable,
    schema: string,
  ) {
    const t = `"${schema}"`;
    const forget = (keep: string) => `
forgotten AS (
  DELETE FROM ${t}.workers WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM ${t}.workers WHERE expires_at < clock_timestamp() AND ${keep}
    LIMIT ${FORGET_PER_CALL} FOR UPDATE SKIP LOCKED)))`;
    this.upsert = `
WITH ${forget('id <> $1')}
INSERT INTO ${t}.workers AS w (id, host, pid, domains, types, concurrency, version, counters,
  started_at, last_seen_at, stale_after_ms, stopped_at, expires_at)
VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6, $7, $8::jsonb, $9, clock_timestamp(), $10, NULL,
  clock_timestamp() + $11 * interval '1 millisecond')
ON CONFLICT (id) DO UPDATE SET (host, pid, domains, types, concurrency, version, counters,
  started_at, last_seen_at, stale_after_ms, stopped_at, expires_at) = (EXCLUDED.host,
  EXCLUDED.pid, EXCLUDED.domains, EXCLUDED.types, EXCLUDED.concurrency, EXCLUDED.version,
  EXCLUDED.counters, EXCLUDED.started_at, EXCLUDED.last_seen_at, EXCLUDED.stale_after_ms,
  NULL, EXCLUDED.expires_at)`;
    this.stop = `
UPDATE ${t}.workers SET stopped_at = clock_timestamp(), last_seen_at = clock_timestamp(),
  counters = $2::jsonb, expires_at = clock_timestamp() + $3 * interval '1 millisecond'
WHERE id = $1`;
    this.remove = `DELETE FROM ${t}.workers WHERE id = $1`;
    // The listing reads the snapshot from before its own deletes: it leaves out the
    // forgotten rows by the same test.
    this.list = `
WITH ${forget('true')}
SELECT id, host, pid, domains, types, concurrency, version, counters, started_at,
  last_seen_at, stale_after_ms, stopped_at,
  greatest(0, extract(epoch FROM clock_timestamp() - last_seen_at) * 1000) AS silent_ms
FROM ${t}.workers WHERE expires_at >= clock_timestamp()
ORDER BY started_at, id LIMIT ${MAX_LISTED_WORKERS}`;
  }

  async upsertWorker(params: UpsertWorkerParams): Promise<void> {
    const { info, staleAfterMs, forgetAfterMs } = checkUpsert(params);
    await this.db.query(this.upsert, [
      info.id,
      info.host,
      info.pid,
      JSON.stringify(info.domains),
      info.types === null ? null : JSON.stringify(info.types),
      info.concurrency,
      info.version,
      JSON.stringify(info.counters),
      info.startedAt.toISOString(),
      staleAfterMs,
      forgetAfterMs,
    ]);
  }

  async stopWorker(params: StopWorkerParams): Promise<void> {
    const { id, counters, forgetAfterMs } = checkStop(params);
    await this.db.query(this.stop, [id, JSON.stringify(counters), forgetAfterMs]);
  }

  async removeWorker(id: string): Promise<void> {
    await this.db.query(this.remove, [id]);
  }

  async listWorkers(): Promise<WorkerEntry[]> {
    const result = await this.db.query<WorkerRow>(this.list);
    return result.rows.map((row) => {
      const entry = {
        id: row.id,
        host: row.host,
        pid: row.pid,
        domains: row.domains,
        types: row.types,
        concurrency: row.concurrency,
        version: row.version,
        counters: row.counters,
        startedAt: new Date(row.started_at),
        lastSeenAt: new Date(row.last_seen_at),
        silentMs: Math.round(Number(row.silent_ms)),
        staleAfterMs: row.stale_after_ms,
        stoppedAt: row.stopped_at === null ? null : new Date(row.stopped_at),
      };
      return { ...entry, status: workerStatus(entry) };
    });
  }
}
