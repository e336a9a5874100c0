/**
 * The crash test on the embedded database. PGlite is one process's database: the killed
 * worker's data directory is reopened by the next process that uses it, which must find
 * every commit the dead one acknowledged and recover the leases it held.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import type { SqlBackend } from '../src/backends/sql/sql-backend.js';
import { createDispatchbox, type CommandBus, type Worker } from '../src/index.js';
import { expectCrashRecovered, heldBy } from './fixtures/crash-checks.js';
import {
  appEffectsSql,
  CrashWorkerProcess,
  EFFECT_TYPE,
  insertEffect,
  runSurvivor,
} from './fixtures/crash-shared.js';

// PGlite runs `ctx.tx` handlers one at a time (its transactions are exclusive), at about
// 200-300 completions a second on two busy cores: 5,000 keeps this file near half a minute.
// The PostgreSQL crash test runs the full 10,000.
const COMMANDS = 5000;
const KILL_AFTER = 1500;
const LEASE_MS = 2000;

describe('crash: a worker killed with SIGKILL, on the embedded database', () => {
  const schema = 'crash';
  const domain = `crash-${randomUUID().slice(0, 8)}`;
  const deadWorkerId = `doomed-${randomUUID().slice(0, 8)}`;
  const survivorId = `survivor-${randomUUID().slice(0, 8)}`;
  let dataDir: string | undefined;
  let bus: CommandBus | undefined;
  let child: CrashWorkerProcess | undefined;
  let worker: Worker | undefined;

  const open = async () =>
    createDispatchbox({ dataDir, schema, migrate: true, logger: pino({ level: 'warn' }) });

  afterAll(async () => {
    await child?.kill();
    await worker?.stop();
    await bus?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('the next process reopens the directory and finishes everything: none lost, one effect each', async () => {
    const started = Date.now();
    dataDir = await mkdtemp(join(tmpdir(), 'dispatchbox-crash-'));
    bus = await open();
    const db = () => (bus!.backend as SqlBackend).driver;
    await db().transaction((tx) => tx.exec(appEffectsSql(schema)));
    const ids: string[] = [];
    for (let i = 0; i < COMMANDS; i += 1000) {
      const items = Array.from({ length: 1000 }, (_, j) => ({
        domain,
        type: EFFECT_TYPE,
        data: { n: i + j },
      }));
      ids.push(...(await bus.sendMany(items)).map((c) => c.id));
    }
    // One process at a time: the child gets the directory to itself.
    await bus.close();
    bus = undefined;
    const sentAt = Date.now();

    child = new CrashWorkerProcess({
      dataDir,
      schema,
      domain,
      workerId: deadWorkerId,
      concurrency: 32,
      claimBatchSize: 64,
      leaseMs: LEASE_MS,
      handlerDelayMs: 0,
    });
    await child.waitFor((p) => p.started > 0, 60_000, 'the child to start working');
    const childStartedAt = Date.now();
    await child.waitFor(
      (p) => p.completed >= KILL_AFTER,
      90_000,
      `${KILL_AFTER} completions in the child`,
    );
    await child.kill();
    const reportedByDead = child.progress.completed;
    const killedAt = Date.now();

    bus = await open();
    const held = await heldBy(db(), schema, deadWorkerId);
    const counts = await bus.countByState(domain);
    expect(held.length, 'commands in flight when the worker died').toBeGreaterThanOrEqual(10);
    expect(counts.completed).toBeGreaterThanOrEqual(reportedByDead);
    expect(counts.completed).toBeLessThan(COMMANDS);

    bus.handle(domain, EFFECT_TYPE, { transactional: true }, async (_data, ctx) => {
      await insertEffect(ctx.tx!, schema, ctx.commandId, survivorId);
    });
    const survivor = await runSurvivor(bus, {
      workerId: survivorId,
      domain,
      total: COMMANDS,
      leaseMs: LEASE_MS,
      timeoutMs: 90_000,
      track: (w) => (worker = w),
    });
    const { finishedAt } = survivor;

    await expectCrashRecovered({
      bus,
      db: db(),
      schema,
      domain,
      ids,
      held,
      deadWorkerId,
      reportedByDead,
    });
    console.info(
      `crash-pglite: child completed ${counts.completed} (reported ${reportedByDead}) and held ${held.length} ` +
        `when killed; set-up ${sentAt - started} ms, child start ${childStartedAt - sentAt} ms, ` +
        `child work ${killedAt - childStartedAt} ms, survivor ${finishedAt - killedAt} ms`,
    );
  }, 180_000);
});
