/** The runner's own look at the PostgreSQL server: its autovacuum setting and the size of a system's schema. */
import pg from 'pg';
import { PG_ADMIN_URL, PG_URL } from './adapters/adapter.js';

/**
 * Runs `fn` with PostgreSQL's autovacuum at its default (on). A server configured with it
 * off (as the test servers of CI are) gets it turned on for the duration with ALTER SYSTEM
 * and a reload, and put back after, so that the sustained workload runs against default
 * autovacuum as production would. Returns how autovacuum was set during `fn`.
 */
export async function withDefaultAutovacuum<T>(
  fn: () => Promise<T>,
): Promise<{ value: T; autovacuum: string }> {
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  const setting = async () =>
    ((await admin.query('SHOW autovacuum')).rows[0] as { autovacuum: string }).autovacuum;
  const reload = async (want: string) => {
    await admin.query('SELECT pg_reload_conf()');
    // The reload is a signal: wait until this session sees the new value.
    for (let i = 0; i < 100 && (await setting()) !== want; i++)
      await new Promise((resolve) => setTimeout(resolve, 20));
  };
  try {
    if ((await setting()) === 'on') return { value: await fn(), autovacuum: 'on' };
    await admin.query('ALTER SYSTEM SET autovacuum = on');
    try {
      await reload('on');
      return {
        value: await fn(),
        autovacuum: 'on (turned on for the workload; the server has it off)',
      };
    } finally {
      await admin.query('ALTER SYSTEM RESET autovacuum');
      await reload('off');
    }
  } finally {
    await admin.end();
  }
}

/** On-disk size of every table of a schema, with their indexes and TOAST. */
export async function schemaBytes(client: pg.Client, schema: string): Promise<number> {
  const { rows } = await client.query(
    `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint AS bytes
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'm')`,
    [schema],
  );
  return Number((rows[0] as { bytes: string }).bytes);
}

/** A connection to the bench database for the runner's size samples. */
export async function benchClient(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  return client;
}
