import type { PGlite } from '@electric-sql/pglite';
import { checkSchemaName } from '../sql/driver.js';
import { SqlBackend } from '../sql/sql-backend.js';
import { PGliteDriver } from './driver.js';

export { schemaSql } from '../sql/migrator.js';

export interface PGliteBackendOptions {
  /** Where the data lives; omit for an in-memory database. */
  dataDir?: string | undefined;
  /** Share the application's own PGlite instance (for sends in its transactions). */
  db?: PGlite | undefined;
  schema?: string | undefined;
}

/** The embedded store: PostgreSQL compiled to WebAssembly, in this process. */
export async function createPGliteBackend(options: PGliteBackendOptions = {}): Promise<SqlBackend> {
  const schema = checkSchemaName(options.schema ?? 'dispatchbox');
  const driver = options.db
    ? new PGliteDriver(options.db, false)
    : await PGliteDriver.open(options.dataDir);
  return new SqlBackend(driver, schema);
}

export { SqlBackend };
