import type { PGlite } from '@electric-sql/pglite';
import { checkSchemaName } from '../sql/driver.js';
import { SqlBackend } from '../sql/sql-backend.js';
import { PGliteDriver } from './driver.js';
import { checkDataDir, lockDataDir } from './lock.js';

export { schemaSql } from '../sql/migrator.js';

export interface PGliteBackendOptions {
  /**
   * Where the data lives; omit for an in-memory database. The directory is locked while
   * the backend is open: a second opener, in this process or another, is refused.
   */
  dataDir?: string | undefined;
  /** Share the application's own PGlite instance (for sends in its transactions). */
  db?: PGlite | undefined;
  schema?: string | undefined;
}

/** The embedded store: PostgreSQL compiled to WebAssembly, in this process. */
export async function createPGliteBackend(options: PGliteBackendOptions = {}): Promise<SqlBackend> {
  const schema = checkSchemaName(options.schema ?? 'dispatchbox');
  if (options.db) return new SqlBackend(new PGliteDriver(options.db, false), schema);
  if (options.dataDir === undefined) return new SqlBackend(await PGliteDriver.open(), schema);
  checkDataDir(options.dataDir);
  const release = lockDataDir(options.dataDir);
  try {
    return new SqlBackend(await PGliteDriver.open(options.dataDir, release), schema);
  } catch (error) {
    release();
    throw error;
  }
}

export { SqlBackend };
