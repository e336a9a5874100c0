import { cpSync, existsSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { PG_ADMIN_URL, PG_BENCH_DB, PG_URL } from './adapter.js';

/** Anything with node-postgres' or PGlite's `query(text, params)`. */
export interface SqlClient {
  query(text: string, params?: unknown[]): Promise<{ rows: unknown[] }>;
}

/** Creates the dedicated `bench` database when it is missing; never touches any other. */
export async function ensureBenchDatabase(): Promise<void> {
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [PG_BENCH_DB]);
    if (found.rowCount === 0) await admin.query(`CREATE DATABASE ${PG_BENCH_DB}`);
  } finally {
    await admin.end();
  }
}

/** A small pool on the bench database, for resets, ANALYZE and counts (never the hot path). */
export async function benchPool(): Promise<pg.Pool> {
  await ensureBenchDatabase();
  return new pg.Pool({ connectionString: PG_URL, max: 2 });
}

export async function dropSchema(db: SqlClient, schema: string): Promise<void> {
  await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
}

/**
 * ANALYZE every table of `schema`, as autovacuum would on a long-lived table. Run
 * untimed, after a backlog is queued, for every SQL store alike.
 */
export async function analyzeSchema(db: SqlClient, schema: string): Promise<void> {
  const tables = await db.query(`SELECT tablename FROM pg_tables WHERE schemaname = $1`, [schema]);
  for (const row of tables.rows as { tablename: string }[]) {
    await db.query(`ANALYZE "${schema}"."${row.tablename}"`);
  }
  // The backlog's dirty pages written out now, untimed and for every system alike: a
  // checkpoint that falls due mid-drain (1,000,000 queued commands are about 1 GB of
  // WAL) would otherwise charge the enqueue's writes to whichever drain follows.
  await db.query('CHECKPOINT');
}

export async function countRows(
  db: SqlClient,
  sql: string,
  params: unknown[] = [],
): Promise<number> {
  const result = await db.query(sql, params);
  const row = result.rows[0] as { n: number | string } | undefined;
  return Number(row?.n ?? 0);
}

const PGLITE_TEMPLATE = join(tmpdir(), 'dispatchbox-bench-pglite-template-0.5.16');

/**
 * A fresh, empty PGlite data directory. Creating one runs initdb in WebAssembly (seconds
 * on a busy machine), so it is done once into a template that each run copies; every
 * embedded system starts from the same copy.
 */
export async function freshPGliteDir(prefix: string): Promise<string> {
  if (!existsSync(PGLITE_TEMPLATE)) {
    const building = mkdtempSync(join(tmpdir(), 'dispatchbox-bench-pglite-building-'));
    const db = await PGlite.create({ dataDir: building });
    await db.close();
    try {
      renameSync(building, PGLITE_TEMPLATE);
    } catch {
      rmSync(building, { recursive: true, force: true });
    }
  }
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cpSync(PGLITE_TEMPLATE, dir, { recursive: true });
  return dir;
}
