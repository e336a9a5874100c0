import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createPGliteBackend } from '../src/backends/pglite/index.js';
import { createPostgresBackend } from '../src/backends/postgres/index.js';
import { createRedisBackend } from '../src/backends/redis/index.js';
import { schemaSql } from '../src/backends/sql/migrator.js';
import { LATEST_SCHEMA_VERSION } from '../src/backends/sql/migrations/index.js';
import { createDispatchbox } from '../src/create.js';
import { ConfigurationError, SchemaVersionError, StoreError } from '../src/core/errors.js';
import { PrivatePostgres } from './helpers/postgres-server.js';
import { REDIS_TEST_DB } from './helpers/redis.js';
import { POSTGRES_URL, reachable } from './helpers/servers.js';

const silent = pino({ level: 'silent' });
const postgresUp = await reachable(5432);
const redisUp = await reachable(6379);
const canRunPostgres = PrivatePostgres.unavailableReason() === null;
const POSTGRES_BASE = POSTGRES_URL.replace(/\/[^/]*$/, '');

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

  it('refuses a store timeout that is not a positive number, naming the option', async () => {
    for (const storeTimeoutMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      for (const databaseUrl of ['postgres://postgres@127.0.0.1:1/x', 'redis://127.0.0.1:1/0']) {
        const error: unknown = await createDispatchbox({
          databaseUrl,
          storeTimeoutMs,
          connectTimeoutMs: 200,
          logger: silent,
        }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ConfigurationError);
        expect((error as Error).message).toMatch(/^storeTimeoutMs must be a positive number/);
      }
    }
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

describe('a connection the server refuses fails at once, with its reason', () => {
  // Far longer than a refusal takes to arrive; a test that waits this long has retried.
  const patient = 30_000;

  async function refusal(open: () => Promise<{ close(): Promise<void> }>): Promise<Error> {
    const started = Date.now();
    const error = await open().then(
      async (store) => {
        await store.close();
        return null;
      },
      (e: unknown) => e as Error,
    );
    expect(error, 'the store opened').not.toBeNull();
    expect(Date.now() - started).toBeLessThan(patient / 2);
    return error!;
  }

  it.runIf(postgresUp).each([
    [
      'an unknown database',
      `${POSTGRES_BASE}/no_such_db`,
      /database "no_such_db" does not exist \(3D000\)/,
    ],
    [
      'an unknown role',
      POSTGRES_URL.replace('//postgres@', '//no_such_role@'),
      /role "no_such_role" does not exist \(28000\)/,
    ],
  ])(
    'PostgreSQL: %s',
    async (_what, url, reason) => {
      const error = await refusal(() =>
        createPostgresBackend({ connectionString: url, connectTimeoutMs: patient }),
      );
      expect(error).toBeInstanceOf(ConfigurationError);
      expect(error.message).toMatch(
        /^PostgreSQL at 127\.0\.0\.1:5432\/\w+ refused the connection: /,
      );
      expect(error.message).toMatch(reason);
      expect(error.cause).toBeInstanceOf(Error);
    },
    60_000,
  );

  it.runIf(canRunPostgres)(
    'PostgreSQL: a wrong password',
    async () => {
      const server = await PrivatePostgres.create({ password: 'right-one' });
      try {
        const url = `postgres://postgres:wrong%2Fone@127.0.0.1:${server.port}/postgres`;
        const error = await refusal(() =>
          createPostgresBackend({ connectionString: url, connectTimeoutMs: patient }),
        );
        expect(error).toBeInstanceOf(ConfigurationError);
        expect(error.message).toContain(
          'password authentication failed for user "postgres" (28P01)',
        );
        expect(error.message).not.toContain('wrong');
        // and the right password gets in
        const right = await createPostgresBackend({
          connectionString: `postgres://postgres:right-one@127.0.0.1:${server.port}/postgres`,
        });
        await right.close();
      } finally {
        await server.destroy();
      }
    },
    120_000,
  );

  it.runIf(redisUp)(
    'Redis: a wrong password',
    async () => {
      const url = `redis://nobody:hunter2@127.0.0.1:6379/${REDIS_TEST_DB}`;
      const error = await refusal(() => createRedisBackend({ url, connectTimeoutMs: patient }));
      expect(error).toBeInstanceOf(ConfigurationError);
      expect(error.message).toContain('refused the connection: WRONGPASS');
      expect(error.message).not.toContain('hunter2');
    },
    60_000,
  );

  it.runIf(redisUp)(
    'Redis: a database the server does not have (redis://…/99)',
    async () => {
      const error = await refusal(() =>
        createRedisBackend({ url: 'redis://127.0.0.1:6379/99', connectTimeoutMs: patient }),
      );
      expect(error).toBeInstanceOf(ConfigurationError);
      expect(error.message).toMatch(
        /^the Redis URL names database 99, which the server at redis:\/\/127\.0\.0\.1:6379\/99 does not have \(ERR DB index is out of range\)/,
      );
      // the same through createDispatchbox, which nothing reaches in db 0
      await expect(
        createDispatchbox({ databaseUrl: 'redis://127.0.0.1:6379/99', env: {}, logger: silent }),
      ).rejects.toThrow('names database 99');
    },
    60_000,
  );
});
