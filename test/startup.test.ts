import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createPGliteBackend } from '../src/backends/pglite/index.js';
import { createPostgresBackend } from '../src/backends/postgres/index.js';
import { schemaSql } from '../src/backends/sql/migrator.js';
import { LATEST_SCHEMA_VERSION } from '../src/backends/sql/migrations/index.js';
import { createDispatchbox } from '../src/create.js';
import { ConfigurationError, SchemaVersionError, StoreError } from '../src/core/errors.js';

const silent = pino({ level: 'silent' });

describe('start-up checks', () => {
  it('refuses a schema older than the code until it is migrated, then a newer one', async () => {
    const backend = await createPGliteBackend({ schema: 'app_queue' });
    await expect(backend.checkSchema()).rejects.toThrow(SchemaVersionError);
    await expect(backend.checkSchema()).rejects.toThrow(/version 0.*run `dispatchbox migrate`/);
    await backend.migrate();
    await backend.migrate(); // idempotent
    await backend.checkSchema();
    await backend.driver.query(
      `INSERT INTO app_queue.schema_migrations (version, name) VALUES ($1, 'future')`,
      [LATEST_SCHEMA_VERSION + 1],
    );
    await expect(backend.checkSchema()).rejects.toThrow(
      /newer than this Dispatchbox knows.*upgrade/,
    );
    await expect(backend.migrate()).rejects.toThrow(SchemaVersionError);
    await backend.close();
  });

  it('exports the schema SQL for users who run their own migrations', async () => {
    const backend = await createPGliteBackend({ schema: 'own_tools' });
    const sql = schemaSql('own_tools');
    expect(sql).toContain('CREATE TABLE "own_tools".commands');
    await backend.driver.transaction((tx) => tx.exec(sql));
    await backend.checkSchema();
    await backend.close();
  });

  it('refuses bad configuration before touching any store', async () => {
    await expect(createDispatchbox({ databaseUrl: 'mysql://x/y', logger: silent })).rejects.toThrow(
      ConfigurationError,
    );
    await expect(createDispatchbox({ databaseUrl: 'postgres://', logger: silent })).rejects.toThrow(
      /no host/,
    );
    await expect(createDispatchbox({ databaseUrl: 'not a url', logger: silent })).rejects.toThrow(
      /the databaseUrl option is not a valid URL/,
    );
    await expect(createPGliteBackend({ schema: 'Robert"); DROP' })).rejects.toThrow(
      /schema name .* is not allowed/,
    );
  });

  it('retries an unreachable PostgreSQL, then says where it looked and what to check', async () => {
    const started = Date.now();
    const error = await createPostgresBackend({
      connectionString: 'postgres://postgres@127.0.0.1:1/test',
      connectTimeoutMs: 700,
    }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StoreError);
    expect((error as Error).message).toMatch(
      /could not reach PostgreSQL at 127\.0\.0\.1:1\/test after \d+ attempts/,
    );
    expect((error as Error).message).toMatch(/Check DISPATCHBOX_DATABASE_URL/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(600);
  });
});
