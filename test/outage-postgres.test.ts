/**
 * The outage test: the worker's PostgreSQL goes away mid-run and comes back. The worker
 * must log it, retry with backoff, lose nothing and carry on. The test runs a server of
 * its own (initdb in a temporary directory, a free port), since the shared one must
 * never be stopped.
 */
import { COUNTED_ATTEMPT } from './fixtures/crash-checks.js';
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDispatchbox, type CommandBus, type Worker } from '../src/index.js';
import { appEffectsSql, insertEffect } from './fixtures/crash-shared.js';
import { waitUntil } from './fixtures/wait-until.js';
import { PrivatePostgres } from './helpers/postgres-server.js';

const PLAIN = 2000;
const TRANSACTIONAL = 1000;
const OUTAGE_MS = 3000;

const unavailable = PrivatePostgres.unavailableReason();
if (unavailable) {
  if (process.env.CI) throw new Error(`the outage test must run in CI, but ${unavailable}`);
  console.warn(
    `\n*** the outage test (test/outage-postgres.test.ts) did NOT run: ${unavailable} ***\n`,
  );
}

interface LogLine {
  level: number;
  msg: string;
  time: number;
}

describe.runIf(unavailable === null)('outage: PostgreSQL stops mid-run and comes back', () => {
  const schema = 'outage';
  const domain = `outage-${randomUUID().slice(0, 8)}`;
  const logs: LogLine[] = [];
  const runs = new Map<string, number>();
  let server: PrivatePostgres | undefined;
  let bus: CommandBus | undefined;
  let worker: Worker | undefined;

  beforeAll(async () => {
    server = await PrivatePostgres.create();
    const logger = pino(
      { level: 'info' },
      { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) },
    );
    bus = await createDispatchbox({ databaseUrl: server.url, schema, migrate: true, logger });
    await check((db) => db.query(appEffectsSql(schema)));
  }, 60_000);

  afterAll(async () => {
    await worker?.stop();
    await bus?.close();
    await server?.destroy();
  });

  /** A short-lived connection of the test's own, for set-up and checks. */
  async function check<T>(fn: (db: pg.Client) => Promise<T>): Promise<T> {
    const client = new pg.Client({ connectionString: server!.url });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  }

  it('the worker logs the outage, retries, and completes every command: none lost, one effect each', async () => {
    const count = (id: string) => runs.set(id, (runs.get(id) ?? 0) + 1);
    // Handler time, raised while the server is being stopped: stopping it takes a process
    // spawn and pg_ctl's own wait, long enough at full speed to run what is left.
    let workMs = 3;
    bus!.handle(domain, 'plain', async (_data, ctx) => {
      count(ctx.commandId);
      await delay(workMs);
    });
    bus!.handle(domain, 'transactional', { transactional: true }, async (_data, ctx) => {
      count(ctx.commandId);
      await insertEffect(ctx.tx!, schema, ctx.commandId, 'worker');
      await delay(workMs - 1);
    });
    const items = [
      ...Array.from({ length: PLAIN }, (_, n) => ({ domain, type: 'plain', data: { n } })),
      ...Array.from({ length: TRANSACTIONAL }, (_, n) => ({
        domain,
        type: 'transactional',
        data: { n },
      })),
    ].sort(() => Math.random() - 0.5);
    const ids: string[] = [];
    for (let i = 0; i < items.length; i += 1000)
      ids.push(...(await bus!.sendMany(items.slice(i, i + 1000))).map((c) => c.id));

    worker = await bus!.worker({ concurrency: 32, leaseMs: 10_000, pollIntervalMs: 100 }).start();
    await waitUntil(() => runs.size >= 800, 30_000, 'the worker has run 800 commands');

    workMs = 250;
    await server!.stop('immediate');
    const downAt = Date.now();
    const ranBeforeOutage = runs.size;
    await delay(OUTAGE_MS); // the outage itself: nothing to wait for but time
    await server!.start();
    workMs = 3;
    const upAt = Date.now();

    await waitUntil(
      async () => (await bus!.countByState(domain)).completed === ids.length,
      60_000,
      `all ${ids.length} commands are completed after the outage`,
    );
    const doneAt = Date.now();
    await worker.stop();

    expect(await bus!.countByState(domain)).toEqual({
      pending: 0,
      in_progress: 0,
      completed: ids.length,
      cancelled: 0,
      troubleshooting: 0,
    });
    expect(ranBeforeOutage).toBeLessThan(ids.length);
    expect(ids.every((id) => (runs.get(id) ?? 0) >= 1)).toBe(true);

    await check(async (db) => {
      const t = `"${schema}"`;
      const present = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${t}.commands WHERE id = ANY($1::uuid[])`,
        [ids],
      );
      expect(present.rows[0]!.n).toBe(ids.length);
      const effects = await db.query(
        `SELECT count(*)::int AS rows, count(DISTINCT e.command_id)::int AS commands
           FROM ${t}.app_effects e JOIN ${t}.commands c ON c.id = e.command_id AND c.type = 'transactional'`,
      );
      expect(effects.rows[0]).toEqual({ rows: TRANSACTIONAL, commands: TRANSACTIONAL });
      // Every trail: one record per attempt that counted, the last one completed and the only
      // completion. An attempt the store failed around was handed back (its own record, no
      // attempt spent).
      const inconsistent = await db.query(
        `SELECT c.id, c.attempts, count(a.*) AS records,
             count(a.*) FILTER (WHERE a.to_state = 'completed') AS completions,
             (array_agg(a.to_state ORDER BY a.id DESC NULLS FIRST))[1] AS last_state
           FROM ${t}.commands c LEFT JOIN ${t}.audit_trail a ON a.command_id = c.id
           GROUP BY c.id, c.attempts
           HAVING count(a.*) FILTER (WHERE ${COUNTED_ATTEMPT}) <> c.attempts OR count(a.*) FILTER (WHERE a.to_state = 'completed' AND ${COUNTED_ATTEMPT}) <> 1
             OR (array_agg(a.to_state ORDER BY a.id DESC NULLS FIRST) FILTER (WHERE ${COUNTED_ATTEMPT}))[1] <> 'completed'
           LIMIT 10`,
      );
      expect(inconsistent.rows).toEqual([]);
    });

    // The worker said what happened while the server was away.
    const during = logs.filter((l) => l.time >= downAt && l.time <= upAt + 1000);
    expect(during.filter((l) => l.level >= 40).map((l) => l.msg)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/cannot (claim commands|write outcomes|renew leases)/),
      ]),
    );
    const rerun = [...runs.values()].filter((n) => n > 1).length;
    console.info(
      `outage-postgres: ${ranBeforeOutage} ran before the outage; server down ${upAt - downAt} ms; ` +
        `all done ${doneAt - upAt} ms after it came back; ${rerun} commands ran twice; ` +
        `${during.filter((l) => l.level >= 40).length} warnings/errors logged during the outage`,
    );
  }, 120_000);
});
