/**
 * The crash test on PostgreSQL: a worker in a child process is killed with SIGKILL while
 * thousands of commands are in flight, and a second worker finishes them. Nothing may be
 * lost, every command completes, the handler's own write (through `ctx.tx`) exists exactly
 * once per command, and the audit trail tells what happened.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDispatchbox, type CommandBus, type Worker } from '../src/index.js';
import { expectCrashRecovered, heldBy } from './fixtures/crash-checks.js';
import {
  appEffectsSql,
  CrashWorkerProcess,
  EFFECT_TYPE,
  insertEffect,
  runSurvivor,
} from './fixtures/crash-shared.js';
import { waitUntil } from './fixtures/wait-until.js';
import { dropSchema, uniqueSchema, withApplicationName } from './helpers/postgres.js';
import { POSTGRES_URL, requireServer } from './helpers/servers.js';

const COMMANDS = 10_000;
const KILL_AFTER = 3000;
const LEASE_MS = 2000;

const available = await requireServer('PostgreSQL (crash test)', 5432);

describe.runIf(available)('crash: a worker killed with SIGKILL, on PostgreSQL', () => {
  const schema = uniqueSchema('crash');
  const domain = `crash-${randomUUID().slice(0, 8)}`;
  const deadWorkerId = `doomed-${randomUUID().slice(0, 8)}`;
  const survivorId = `survivor-${randomUUID().slice(0, 8)}`;
  // Names the child's sessions, so the test can see the server let go of them.
  const childUrl = withApplicationName(POSTGRES_URL, deadWorkerId);
  let bus: CommandBus | undefined;
  let db: pg.Pool | undefined;
  let child: CrashWorkerProcess | undefined;
  let worker: Worker | undefined;

  beforeAll(async () => {
    bus = await createDispatchbox({
      databaseUrl: POSTGRES_URL,
      schema,
      migrate: true,
      logger: pino({ level: 'warn' }),
    });
    db = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
    await db.query(appEffectsSql(schema));
  });

  afterAll(async () => {
    await child?.kill();
    await worker?.stop();
    await bus?.close();
    await db?.end();
    await dropSchema(POSTGRES_URL, schema);
  });

  it('a second worker finishes what the killed one held: none lost, one effect each, audit consistent', async () => {
    const started = Date.now();
    const ids: string[] = [];
    for (let i = 0; i < COMMANDS; i += 1000) {
      const items = Array.from({ length: 1000 }, (_, j) => ({
        domain,
        type: EFFECT_TYPE,
        data: { n: i + j },
      }));
      ids.push(...(await bus!.sendMany(items)).map((c) => c.id));
    }

    child = new CrashWorkerProcess({
      databaseUrl: childUrl,
      schema,
      domain,
      workerId: deadWorkerId,
      concurrency: 32,
      claimBatchSize: 64,
      leaseMs: LEASE_MS,
      poolSize: 20,
      handlerDelayMs: 5,
    });
    await child.waitFor(
      (p) => p.completed >= KILL_AFTER,
      60_000,
      `${KILL_AFTER} completions in the child`,
    );
    await child.kill();
    const reportedByDead = child.progress.completed;
    const killedAt = Date.now();

    // A COMMIT the child sent just before it died may still be applied; wait until the
    // server has closed every session of the child before reading what it held.
    await waitUntil(
      async () => {
        const r = await db!.query<{ n: string }>(
          'SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1',
          [deadWorkerId],
        );
        return Number(r.rows[0]!.n) === 0;
      },
      15_000,
      'the server has closed the killed worker’s sessions',
    );
    const held = await heldBy(db!, schema, deadWorkerId);
    const counts = await bus!.countByState(domain);
    expect(held.length, 'commands in flight when the worker died').toBeGreaterThanOrEqual(10);
    expect(counts.completed).toBeGreaterThanOrEqual(reportedByDead);
    expect(counts.completed).toBeLessThan(COMMANDS);

    bus!.handle(domain, EFFECT_TYPE, { transactional: true }, async (_data, ctx) => {
      await insertEffect(ctx.tx!, schema, ctx.commandId, survivorId);
    });
    const survivor = await runSurvivor(bus!, {
      workerId: survivorId,
      domain,
      total: COMMANDS,
      leaseMs: LEASE_MS,
      timeoutMs: 60_000,
      track: (w) => (worker = w),
    });
    const { finishedAt } = survivor;

    await expectCrashRecovered({
      bus: bus!,
      db: db!,
      schema,
      domain,
      ids,
      held,
      deadWorkerId,
      reportedByDead,
    });
    console.info(
      `crash-postgres: child completed ${counts.completed} (reported ${reportedByDead}) and held ${held.length} ` +
        `when killed at ${killedAt - started} ms; survivor finished in ${finishedAt - killedAt} ms ` +
        `(${survivor.worker.stats.completed} completions)`,
    );
  }, 120_000);
});
