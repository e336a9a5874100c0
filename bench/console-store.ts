/** The stores of the console benchmarks, made through the library, on 127.0.0.1 only. */
import type { SqlBackend } from '../src/backends/sql/sql-backend.js';

export const PG_URL = 'postgres://postgres@127.0.0.1:5432/test';

export type Log = (message: string) => void;

export type StoreName = 'postgres' | 'pglite';

/** A SQL store made through the library, migrated: PostgreSQL's schema or a PGlite directory. */
export async function openStore(
  store: StoreName,
  schema: string,
  dataDir?: string,
): Promise<SqlBackend> {
  const backend =
    store === 'postgres'
      ? await (
          await import('../src/backends/postgres/index.js')
        ).createPostgresBackend({
          connectionString: PG_URL,
          schema,
          poolSize: 24,
          // the fill's statements and VACUUM take minutes
          storeTimeoutMs: 900_000,
        })
      : await (await import('../src/backends/pglite/index.js')).createPGliteBackend({ dataDir });
  await backend.migrate();
  return backend;
}

export async function dropSchema(backend: SqlBackend): Promise<void> {
  if (backend.kind === 'postgres')
    await backend.driver.query(`DROP SCHEMA IF EXISTS "${backend.schema}" CASCADE`);
}
