/**
 * No deadlocks on PostgreSQL under load: several workers, each on its own pool, with short
 * leases renewed every 100 ms, rate-limited handlers whose refusals hand commands straight
 * back, and handlers of random length, so that every renewal names commands that outcome
 * flushes are settling at the same moment in another order. The server is the test's own,
 * so `pg_stat_database.deadlocks` counts this run's deadlocks alone (the shared server's
 * counter would also count those of every other test running on it).
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresBackend } from '../src/backends/postgres/index.js';
import type { SqlBackend } from '../src/backends/sql/sql-backend.js';
import { CommandBus } from '../src/bus/bus.js';
import type { Worker } from '../src/worker/worker.js';
import { waitUntil } from './fixtures/wait-until.js';
import { PrivatePostgres } from './helpers/postgres-server.js';

const WORKERS = 6;
/** Renewed every third of it: 100 ms. */
const LEASE_MS = 300;
/** How long commands are sent; the test's bound, with start-up and the final read. */
const RUN_MS = 12_000;
/** The backlog the sender keeps, so claims stay full and every flush is large. */
const BACKLOG = 3000;

const unavailable = PrivatePostgres.unavailableReason();
if (unavailable) {
  if (process.env.CI) throw new Error(`the deadlock test must run in CI, but ${unavailable}`);
  console.warn(
    `\n*** the deadlock test (test/deadlock-postgres.test.ts) did NOT run: ${unavailable} ***\n`,
  );
}

describe.runIf(unavailable === null)('PostgreSQL under renewal and outcome load', () => {
  const schema = 'stress';
  let server: PrivatePostgres | undefined;
  const backends: SqlBackend[] = [];
  const workers: Worker[] = [];

  beforeAll(async () => {
    server = await PrivatePostgres.create();
  }, 60_000);

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop(2000)));
    await Promise.all(backends.map((b) => b.close().catch(() => {})));
    await server?.destroy();
  });

  async function check<T>(fn: (db: pg.Client) => Promise<T>): Promise<T> {
    const client = new pg.Client({ connectionString: server!.url });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  }

  /** The database's deadlock count, once every other session has ended (and so reported its statistics). */
  async function deadlocks(): Promise<number> {
    return check(async (db) => {
      await waitUntil(
        async () => {
          const others = await db.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_stat_activity
             WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()`,
          );
          return others.rows[0]!.n === 0;
        },
        10_000,
        'every other session has ended',
        25,
      );
      const row = await db.query<{ deadlocks: string }>(
        `SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()`,
      );
      return Number(row.rows[0]!.deadlocks);
    });
  }

  it('renews without waiting for a row another transaction holds, and counts that lease as held', async () => {
    const backend = await createPostgresBackend({
      connectionString: server!.url,
      schema: 'locked',
    });
    await backend.migrate();
    try {
      await renewPastALock(backend);
    } finally {
      await backend.close();
    }
  }, 20_000);

  async function renewPastALock(backend: SqlBackend): Promise<void> {
    const bus = new CommandBus({ backend, logger: pino({ level: 'silent' }) });
    const domain = `locked-${randomUUID().slice(0, 8)}`;
    const [held, free] = await bus.sendMany([
      { domain, type: 'T', data: {} },
      { domain, type: 'T', data: {} },
    ]);
    const leaseToken = randomUUID();
    const claimed = await backend.claim({
      workerId: 'w',
      domain,
      types: null,
      limit: 2,
      leaseMs: 60_000,
      leaseToken,
    });
    expect(claimed).toHaveLength(2);
    const before = await backend.getCommand(free!.id);
    await check(async (db) => {
      await db.query('BEGIN');
      await db.query(`SELECT 1 FROM locked.commands WHERE id = $1 FOR UPDATE`, [held!.id]);
      try {
        // a renewal that waited would wait until this transaction ends: forever, here
        const { lost } = await backend.renewLeases({
          leases: [held!, free!].map((c) => ({ id: c.id, leaseToken })),
          leaseMs: 120_000,
        });
        expect(lost).toEqual([]);
      } finally {
        await db.query('ROLLBACK');
      }
    });
    const after = await backend.getCommand(free!.id);
    expect(after!.leaseExpiresAt!.getTime()).toBeGreaterThan(before!.leaseExpiresAt!.getTime());
    const stale = await backend.renewLeases({
      leases: [{ id: held!.id, leaseToken: randomUUID() }],
      leaseMs: 1000,
    });
    expect(stale.lost).toEqual([held!.id]);
  }

  it('prunes expired concurrency slots without waiting for one an acquire holds', async () => {
    const backend = await createPostgresBackend({ connectionString: server!.url, schema: 'slots' });
    await backend.migrate();
    try {
      const key = `cap-${randomUUID().slice(0, 8)}`;
      // long enough that the second acquire does not find the first expired (and delete it)
      for (const holder of ['held', 'free'])
        expect(await backend.acquireSlot({ key, holder, limit: 5, leaseMs: 2000 })).toBe(true);
      const left = () =>
        backend.driver.query<{ holder: string }>(
          `SELECT holder FROM slots.concurrency_slots WHERE key = $1 ORDER BY holder`,
          [key],
        );
      await waitUntil(
        async () =>
          (
            await backend.driver.query<{ n: number }>(
              `SELECT count(*)::int AS n FROM slots.concurrency_slots WHERE expires_at < now()`,
            )
          ).rows[0]!.n === 2,
        10_000,
        'both slots have expired',
        10,
      );
      await check(async (db) => {
        // as an acquire of the key holds the expired slots it is deleting
        await db.query('BEGIN');
        await db.query(`SELECT 1 FROM slots.concurrency_slots WHERE holder = 'held' FOR UPDATE`);
        try {
          await backend.prune({ olderThanMs: 60_000, limit: 100 });
          expect((await left()).rows.map((r) => r.holder)).toEqual(['held']);
        } finally {
          await db.query('ROLLBACK');
        }
      });
      await backend.prune({ olderThanMs: 60_000, limit: 100 });
      expect((await left()).rows).toEqual([]);
    } finally {
      await backend.close();
    }
  }, 20_000);

  it(
    'has no deadlock between lease renewals and outcome writes (pg_stat_database.deadlocks unchanged)',
    async () => {
      const setup = await createPostgresBackend({ connectionString: server!.url, schema });
      await setup.migrate();
      await setup.close();
      const before = await deadlocks();

      const domain = `stress-${randomUUID().slice(0, 8)}`;
      const done = { Limited: 0, Varied: 0 };
      const logged: string[] = [];
      const logger = pino({ level: 'warn' }, { write: (line: string) => void logged.push(line) });
      const buses: CommandBus[] = [];
      for (let i = 0; i < WORKERS; i++) {
        const backend = await createPostgresBackend({ connectionString: server!.url, schema });
        backends.push(backend);
        const bus = new CommandBus({ backend, logger });
        // a bucket far below the rate they are sent at (hundreds a second even on a slow
        // machine): most starts are refused and the command handed back at once, while the
        // renewals still name it
        bus.handle(
          domain,
          'Limited',
          { rateLimit: { key: `${domain}-bucket`, limit: 200, per: '1s' } },
          async () => {
            await delay(Math.random() * 5);
            done.Limited++;
          },
        );
        bus.handle(domain, 'Varied', async () => {
          await delay(Math.random() * 30);
          done.Varied++;
        });
        buses.push(bus);
      }
      for (const [i, bus] of buses.entries()) {
        const worker = bus.worker({
          workerId: `stress-${i}`,
          leaseMs: LEASE_MS,
          concurrency: 64,
          pollIntervalMs: 50,
        });
        workers.push(worker);
        await worker.start();
      }

      const sender = buses[0]!;
      let sent = 0;
      const end = Date.now() + RUN_MS;
      while (Date.now() < end) {
        // the backlog of the unlimited half: the limited half piles up behind its bucket
        if (sent / 2 - done.Varied < BACKLOG) {
          await sender.sendMany(
            Array.from({ length: 250 }, (_, n) => ({
              domain,
              type: n % 2 === 0 ? 'Limited' : 'Varied',
              data: { n },
            })),
          );
          sent += 250;
        } else {
          await delay(10);
        }
      }
      await Promise.all(workers.map((w) => w.stop(5000)));
      await Promise.all(backends.map((b) => b.close()));
      const after = await deadlocks();

      const reported = logged.filter((line) => line.includes('deadlock detected')).length;
      const completed = workers.reduce((n, w) => n + w.stats.completed, 0);
      const limited = workers.reduce((n, w) => n + w.stats.limited, 0);
      console.log(
        `deadlock stress: ${sent} sent, ${completed} completed, ${limited} starts rate limited, ` +
          `deadlocks ${before} -> ${after}, ${reported} reported in the workers' logs`,
      );
      // the load was real: thousands of outcomes, rate-limit hand-backs among them
      expect(completed).toBeGreaterThan(2000);
      expect(limited).toBeGreaterThan(100);
      expect(reported).toBe(0);
      expect(after - before).toBe(0);
    },
    RUN_MS + 60_000,
  );
});
