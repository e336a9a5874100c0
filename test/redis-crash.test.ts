/**
 * kill -9 a worker with 10,000 commands in flight on Redis: a second worker recovers the
 * expired leases and finishes every one; none is lost, each ran twice at most, and the
 * audit trail of each tells the story (claimed, lease expired, claimed, completed). The
 * dead worker's stream tickets are taken back too: none is left pending.
 */
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { createRedisBackend } from '../src/backends/redis/index.js';
import { TICKET_GROUP } from '../src/backends/redis/keys.js';
import type { RedisBackend } from '../src/backends/redis/redis-backend.js';
import { CommandBus } from '../src/bus/bus.js';
import type { Worker } from '../src/worker/worker.js';
import { deletePrefix, redisAvailable, REDIS_URL, uniquePrefix } from './helpers/redis.js';
import { RedisWorkerProcess } from './helpers/redis-process.js';

const available = await redisAvailable();
const COUNT = 10_000;
/** The survivor's lease. The doomed worker holds 10,000 leases on a busy machine, so it gets longer. */
const LEASE_MS = 2000;
const DOOMED_LEASE_MS = 5000;

describe.runIf(available)('Redis crash', () => {
  const prefix = uniquePrefix('crash');
  let backend: RedisBackend | undefined;
  let child: RedisWorkerProcess | undefined;
  let worker: Worker | undefined;
  afterAll(async () => {
    await child?.kill();
    await worker?.stop(2000);
    await backend?.close();
    await deletePrefix(prefix);
  });

  it('loses none of 10,000 in-flight commands when their worker is killed', async () => {
    backend = await createRedisBackend({ url: REDIS_URL, prefix });
    const bus = new CommandBus({ backend, logger: pino({ level: 'silent' }) });
    const domain = `crash-${randomUUID().slice(0, 8)}`;
    const sent = await bus.sendMany(
      Array.from({ length: COUNT }, (_, n) => ({ domain, type: 'Job', data: { n } })),
    );

    child = new RedisWorkerProcess({
      url: REDIS_URL,
      prefix,
      domain,
      type: 'Job',
      workerId: 'doomed',
      concurrency: COUNT,
      leaseMs: DOOMED_LEASE_MS,
      mode: 'hold',
      handlerDelayMs: 0,
    });
    await child.waitFor(
      (p) => p.started === COUNT,
      60_000,
      `all ${COUNT} commands to be in flight`,
    );
    expect((await bus.countByState(domain)).in_progress).toBe(COUNT);
    const stream = backend.keysOf(domain).stream;
    const pending = async () =>
      ((await backend!.client.xpending(stream, TICKET_GROUP)) as [number, ...unknown[]])[0];
    expect(await pending()).toBe(COUNT); // one ticket per command in flight
    await child.kill();

    bus.handle(domain, 'Job', () => 'done');
    worker = await bus
      .worker({ workerId: 'survivor', concurrency: 64, leaseMs: LEASE_MS, pollIntervalMs: 100 })
      .start();
    const deadline = Date.now() + 90_000;
    while ((await bus.countByState(domain)).completed < COUNT) {
      if (Date.now() > deadline)
        throw new Error(`not finished: ${JSON.stringify(await bus.countByState(domain))}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await worker.stop(2000);

    expect(await pending()).toBe(0);
    const consumers = (await backend.client.xinfo(
      'CONSUMERS',
      stream,
      TICKET_GROUP,
    )) as unknown[][];
    for (const c of consumers) expect(c[3]).toBe(0); // [name, n, pending, n, ...]
    expect(await bus.countByState(domain)).toMatchObject({
      completed: COUNT,
      pending: 0,
      in_progress: 0,
      troubleshooting: 0,
    });
    for (let i = 0; i < sent.length; i += 500) {
      const part = sent.slice(i, i + 500);
      const [commands, trails] = await Promise.all([
        Promise.all(part.map((c) => backend!.getCommand(c.id))),
        Promise.all(part.map((c) => backend!.getAudit(c.id))),
      ]);
      for (const command of commands)
        expect(command).toMatchObject({ state: 'completed', attempts: 2, result: 'done' });
      for (const trail of trails) {
        expect(trail.map((r) => [r.toState, r.reason, r.workerId])).toEqual([
          ['pending', 'sent', null],
          ['in_progress', 'claimed', 'doomed'],
          ['pending', 'lease expired', 'doomed'],
          ['in_progress', 'claimed', 'survivor'],
          ['completed', 'succeeded', 'survivor'],
        ]);
      }
    }
  }, 180_000);
});
