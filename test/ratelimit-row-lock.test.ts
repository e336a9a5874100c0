/**
 * PostgreSQL: takes of one bucket queue on its row lock, and under load a queue can be
 * long (slow commits). A take is credited the refill up to the moment it holds the lock,
 * not up to the start of its statement: otherwise the takes that queued hand out the
 * bucket as it was when they started, and the takes after them credit the queued time
 * again, so one burst follows another at once.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresBackend } from '../src/backends/postgres/index.js';
import type { SqlBackend } from '../src/backends/sql/sql-backend.js';
import { dropSchema, uniqueSchema, withPostgres } from './helpers/postgres.js';
import { POSTGRES_URL, requireServer } from './helpers/servers.js';
import { waitUntil } from './fixtures/wait-until.js';

const postgres = await requireServer('PostgreSQL', 5432);

describe.runIf(postgres)('rate limit buckets on PostgreSQL: takes queued on the row lock', () => {
  const schema = uniqueSchema('rowlock');
  let backend: SqlBackend;
  beforeAll(async () => {
    backend = await createPostgresBackend({
      connectionString: POSTGRES_URL,
      schema,
      poolSize: 25,
    });
    await backend.migrate();
  });
  afterAll(async () => {
    await backend?.close();
    await dropSchema(POSTGRES_URL, schema);
  });

  it('grants no more than burst + rate × elapsed after the lock is let go', async () => {
    // 20 tokens a second, at most 5: while the row is locked for 1 s the bucket is full
    const spec = {
      key: `rowlock-${randomUUID().slice(0, 8)}`,
      limit: 20,
      perMs: 1000,
      capacity: 5,
    };
    expect((await backend.takeToken(spec)).granted).toBe(true);
    const granted = await withPostgres(POSTGRES_URL, async (locker) => {
      await locker.query('BEGIN');
      await locker.query(`SELECT 1 FROM "${schema}".rate_limit_buckets WHERE key = $1 FOR UPDATE`, [
        spec.key,
      ]);
      const queued = Array.from({ length: 10 }, () => backend.takeToken(spec));
      // Every take has started its statement and waits for the row.
      await waitUntil(
        async () => {
          // the activity view is read once per transaction unless its snapshot is cleared
          await locker.query('SELECT pg_stat_clear_snapshot()');
          const { rows } = await locker.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_stat_activity
             WHERE wait_event_type = 'Lock' AND query LIKE $1`,
            [`%"${schema}".rate_limit_buckets%`],
          );
          return rows[0]!.n === 10;
        },
        10_000,
        'the ten takes wait for the row lock',
      );
      // The stall itself: how long the takes queue is what the test is about.
      await delay(1000);
      await locker.query('COMMIT');
      const released = performance.now();
      const first = await Promise.all(queued);
      const second = await Promise.all(Array.from({ length: 10 }, () => backend.takeToken(spec)));
      const elapsedMs = performance.now() - released;
      const all = [...first, ...second].filter((a) => a.granted).length;
      return { all, elapsedMs };
    });
    // All twenty were granted or refused within elapsedMs of the lock's release: the
    // bucket held at most 5 then, and refilled 20/s since.
    const allowed = Math.floor(spec.capacity + (spec.limit * granted.elapsedMs) / spec.perMs);
    expect(granted.all, `granted within ${Math.round(granted.elapsedMs)} ms`).toBeLessThanOrEqual(
      allowed,
    );
    expect(granted.all, 'the full bucket is granted').toBeGreaterThanOrEqual(spec.capacity);
  });
});
