import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createPostgresBackend } from '../src/backends/postgres/index.js';
import { neverThrows } from '../src/core/log-safely.js';
import { BlackholeProxy } from './helpers/blackhole-proxy.js';
import { dropSchema, withApplicationName, withPostgres } from './helpers/postgres.js';
import { POSTGRES_URL, requireServer } from './helpers/servers.js';

const available = await requireServer('PostgreSQL', 5432);

describe('callbacks of the application', () => {
  it('drops what a callback throws, so that its caller goes on', () => {
    const seen: number[] = [];
    const safe = neverThrows((n: number) => {
      seen.push(n);
      throw new Error('the application failed');
    });
    expect(() => safe(1)).not.toThrow();
    expect(() => neverThrows(undefined)()).not.toThrow();
    expect(seen).toEqual([1]);
  });
});

describe.runIf(available)('PostgreSQL: an onError that throws', () => {
  it('is told of a connection the server ended, and the process goes on', async () => {
    const name = `onerror-${randomUUID().slice(0, 8)}`;
    const schema = `t_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
    const told: string[] = [];
    let firstTold!: () => void;
    const toldOnce = new Promise<void>((resolve) => (firstTold = resolve));
    const backend = await createPostgresBackend({
      connectionString: withApplicationName(POSTGRES_URL, name),
      schema,
      onError: (_error, where) => {
        told.push(where);
        firstTold();
        throw new Error('the application’s own error callback failed');
      },
    });
    try {
      await backend.migrate();
      // an idle connection of the pool, ended by the server: the pool tells onError from
      // its 'error' event, where a throw would be an uncaught exception
      await withPostgres(POSTGRES_URL, (c) =>
        c.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`,
          [name],
        ),
      );
      await toldOnce;
      expect(told).toContain('idle connection');
      // and the store still answers, on a new connection
      await expect(backend.getCommand(randomUUID())).resolves.toBeNull();
    } finally {
      await backend.close();
      await dropSchema(POSTGRES_URL, schema);
    }
  });

  it('fails a statement whose connection drops while it runs, and the process goes on', async () => {
    const name = `midquery-${randomUUID().slice(0, 8)}`;
    const schema = `t_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
    const proxy = await BlackholeProxy.start(5432);
    const viaProxy = POSTGRES_URL.replace(':5432', `:${proxy.port}`);
    const backend = await createPostgresBackend({
      connectionString: withApplicationName(viaProxy, name),
      schema,
    });
    try {
      await backend.migrate();
      const sleeping = backend.driver.query('SELECT pg_sleep(30)').then(
        () => null,
        (error: unknown) => error,
      );
      await withPostgres(POSTGRES_URL, async (c) => {
        for (let n = 0; n < 100; n++) {
          const running = await c.query<{ n: string }>(
            `SELECT count(*) AS n FROM pg_stat_activity
             WHERE application_name = $1 AND query = 'SELECT pg_sleep(30)'`,
            [name],
          );
          if (Number(running.rows[0]!.n) > 0) return;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        throw new Error('the statement never showed in pg_stat_activity');
      });
      // the connection drops under the running statement with no word from the server (a
      // server killed, a network reset): node-postgres fails the statement and emits
      // 'error' on the checked-out client, which must not reach the process as an
      // uncaught exception (the test run reports those as errors)
      await proxy.close();
      expect(await sleeping).toMatchObject({ name: 'StoreError' });
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      await backend.close();
      await dropSchema(POSTGRES_URL, schema);
    }
  });
});
