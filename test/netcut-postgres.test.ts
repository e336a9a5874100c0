/**
 * A network cut on PostgreSQL: a worker's connections go silent for 30 s mid-drain (no
 * reset, no close), then the network comes back (test/fixtures/netcut-scenario.ts). On
 * top of what holds on every store: each `ctx.tx` command's own write exists exactly
 * once, written by the worker that completed it, and the cut-off worker listens for
 * wake-ups again on a new connection.
 */
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDispatchbox, type CommandBus } from '../src/index.js';
import { appEffectsSql, insertEffect } from './fixtures/crash-shared.js';
import { expectNetcutRecovered, runNetcut, type NetcutStore } from './fixtures/netcut-scenario.js';
import type { NetcutWorkerProcess } from './fixtures/netcut-shared.js';
import { waitUntil } from './fixtures/wait-until.js';
import type { BlackholeProxy } from './helpers/blackhole-proxy.js';
import { dropSchema, uniqueSchema, withApplicationName } from './helpers/postgres.js';
import { POSTGRES_URL, requireServer } from './helpers/servers.js';
import type { Worker } from '../src/index.js';

const available = await requireServer('PostgreSQL (network-cut test)', 5432);

describe.runIf(available)('network cut: a worker cut off from PostgreSQL in silence', () => {
  const schema = uniqueSchema('netcut');
  const cleanup: { proxy?: BlackholeProxy; a?: NetcutWorkerProcess; b?: Worker } = {};
  let bus: CommandBus | undefined;
  let db: pg.Pool | undefined;
  // Held by the test while A's held ctx.tx runs wait for it.
  const lockKey = Math.floor(Math.random() * 2 ** 31);
  let locker: pg.Client | undefined;

  beforeAll(async () => {
    bus = await createDispatchbox({
      databaseUrl: POSTGRES_URL,
      schema,
      migrate: true,
      logger: pino({ level: 'silent' }),
    });
    db = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
    await db.query(appEffectsSql(schema));
    locker = new pg.Client({ connectionString: POSTGRES_URL });
    await locker.connect();
    await locker.query('SELECT pg_advisory_lock($1)', [lockKey]);
  });

  afterAll(async () => {
    await cleanup.a?.kill();
    await locker?.end(); // lets A's held statements go on; their connections are gone
    await cleanup.b?.stop(2000);
    await cleanup.proxy?.close();
    await bus?.close();
    await db?.end();
    await dropSchema(POSTGRES_URL, schema);
  });

  it('notices within its lease, aborts, is taken over, has its late outcomes refused and comes back: each command and effect once', async () => {
    const store: NetcutStore = {
      bus: bus!,
      storePort: Number(new URL(POSTGRES_URL).port || 5432),
      proxiedUrl: (port, workerId) => {
        const u = new URL(withApplicationName(POSTGRES_URL, workerId));
        u.hostname = '127.0.0.1';
        u.port = String(port);
        return u.toString();
      },
      schema,
      transactional: true,
      lockKey,
      // Statements A sent before the cut finish in the server; one waiting for a lock
      // that an open transaction of A holds waits until the network is back.
      quiesced: (workerId) =>
        waitUntil(
          async () => {
            const r = await db!.query<{ n: number }>(
              `SELECT count(*)::int AS n FROM pg_stat_activity
               WHERE application_name = $1 AND state = 'active' AND wait_event_type IS DISTINCT FROM 'Lock'`,
              [workerId],
            );
            return r.rows[0]!.n === 0;
          },
          10_000,
          'nothing the cut-off worker sent is still running',
        ),
      effect: (tx, commandId, workerId) => insertEffect(tx, schema, commandId, workerId),
    };
    const run = await runNetcut(store, cleanup);
    await expectNetcutRecovered(bus!, run);

    // A's ctx.tx runs waiting on a statement were ended when it gave up their leases, by
    // dropping their connections: before the network came back.
    const ended = run.a.statementsEnded;
    expect(ended.length).toBeGreaterThanOrEqual(2);
    for (const x of ended) {
      expect(x.at).toBeGreaterThanOrEqual(run.a.expired[0]!.at);
      expect(x.at).toBeLessThan(run.restoreAt);
    }

    // One effect per ctx.tx command, by the worker whose attempt completed it.
    const t = `"${schema}"`;
    const effects = await db!.query(
      `SELECT count(*)::int AS rows, count(DISTINCT command_id)::int AS commands,
         count(*) FILTER (WHERE command_id <> ALL($1::uuid[]))::int AS strangers
       FROM ${t}.app_effects`,
      [run.effectIds],
    );
    expect(effects.rows[0]).toEqual({
      rows: run.effectIds.length,
      commands: run.effectIds.length,
      strangers: 0,
    });
    const mismatched = await db!.query(
      `SELECT e.command_id FROM ${t}.app_effects e
       JOIN ${t}.audit_trail a ON a.command_id = e.command_id AND a.to_state = 'completed'
         AND (a.error->>'code') IS DISTINCT FROM 'LATE_OUTCOME_REFUSED'
       WHERE a.worker_id IS DISTINCT FROM e.worker_id LIMIT 5`,
    );
    expect(mismatched.rows).toEqual([]);
    const effectsByA = await db!.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${t}.app_effects WHERE worker_id = $1`,
      [run.aId],
    );
    expect(effectsByA.rows[0]!.n).toBeGreaterThan(0);

    // A listens for wake-ups again, on a connection made after the network came back (its
    // last statement is the LISTEN, or the check that the connection is alive).
    await waitUntil(
      async () => {
        const listening = await db!.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
           WHERE application_name = $1 AND (query LIKE 'LISTEN %' OR query = 'SELECT 1') AND backend_start > to_timestamp($2 / 1000.0)`,
          [run.aId, run.restoreAt],
        );
        return listening.rows[0]!.n === 1;
      },
      15_000,
      'the cut-off worker listens on a new connection',
    );

    console.info(
      `netcut-postgres: A held ${run.held.length} when cut; gave up its leases ${run.a.expired[0]!.at - run.cutAt} ms after the cut ` +
        `(${run.a.expired[0]!.running} running, ${run.a.expired[0]!.buffered} buffered); ` +
        `${run.a.progress.stale} late outcomes refused; completed ${run.a.progress.completed - run.atRestore.completed} after the restore`,
    );
  }, 120_000);
});
