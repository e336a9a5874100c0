/**
 * Redis batches when a process dies between the steps of a batch's creation or finish:
 * the defensive paths of maintenance that run only after such a crash.
 */
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisBackend } from '../src/backends/redis/index.js';
import type { RedisBackend } from '../src/backends/redis/redis-backend.js';
import { runScript } from '../src/backends/redis/scripts/runner.js';
import { CommandBus } from '../src/bus/bus.js';
import type {
  RedisBatchCreatorConfig,
  RedisBatchCreatorMessage,
} from './fixtures/redis-batch-creator.js';
import { waitUntil } from './fixtures/wait-until.js';
import { deletePrefix, redisAvailable, REDIS_URL, uniquePrefix } from './helpers/redis.js';

const available = await redisAvailable();
const logger = pino({ level: 'silent' });
/** RedisBatches rolls back a batch left staging this long (its creator is presumed dead). */
const ABANDONED_AFTER_MS = 60 * 60 * 1000;

/** Creates a batch in a child process that stops at `stopAt`, then kills it with SIGKILL. */
async function createAndKill(config: RedisBatchCreatorConfig): Promise<void> {
  const child = fork(
    fileURLToPath(new URL('./fixtures/redis-batch-creator.ts', import.meta.url)),
    [],
    {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, DISPATCHBOX_REDIS_BATCH_CREATOR: JSON.stringify(config) },
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    },
  );
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await new Promise<void>((resolve, reject) => {
      child.on('message', (message: RedisBatchCreatorMessage) => {
        if (message.kind === 'stopped') resolve();
        else reject(new Error('the creator ran to its end'));
      });
      void exited.then(() => reject(new Error(`the creator exited:\n${stderr}`)));
    });
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
}

describe.runIf(available)('Redis batches after a crash', () => {
  const prefix = uniquePrefix('batches');
  let backend: RedisBackend;
  let bus: CommandBus;
  beforeAll(async () => {
    backend = await createRedisBackend({ url: REDIS_URL, prefix });
    bus = new CommandBus({ backend, logger });
  });
  afterAll(async () => {
    await backend?.close();
    await deletePrefix(prefix);
  });

  /** Stands in for the hour after which a batch still staging counts as abandoned. */
  async function ageStaging(id: string): Promise<void> {
    const staging = backend.keys.stagingBatches;
    expect(await backend.client.zscore(staging, id)).not.toBeNull();
    await backend.client.zadd(staging, 'XX', Date.now() - ABANDONED_AFTER_MS - 1000, id);
  }

  it('rolls back a batch whose creator died before the commit, once it is abandoned', async () => {
    const domain = `staging-${randomUUID().slice(0, 8)}`;
    const batchId = randomUUID();
    const keyPrefix = `k-${randomUUID().slice(0, 8)}-`;
    await createAndKill({
      url: REDIS_URL,
      prefix,
      batchId,
      domain,
      keyPrefix,
      chunkSize: 50,
      stopAt: 'staging',
    });
    expect(await backend.getBatch(batchId)).toBeNull();
    expect(await backend.client.llen(backend.keysOf(domain).staged(batchId))).toBeGreaterThan(0);
    // Within the hour the creator may still be at work: nothing is touched.
    await backend.finishBatches({});
    expect(await backend.client.llen(backend.keysOf(domain).staged(batchId))).toBeGreaterThan(0);

    await ageStaging(batchId);
    await backend.finishBatches({});
    expect(await backend.client.exists(backend.keys.batch(batchId))).toBe(0);
    expect(await backend.client.exists(backend.keysOf(domain).staged(batchId))).toBe(0);
    expect(await backend.client.zscore(backend.keys.stagingBatches, batchId)).toBeNull();
    expect(await bus.list({ domain })).toEqual([]);
    // The idempotency keys of the staged commands are free again, and so is the batch id.
    const again = await bus.send(domain, 'Job', { n: 0 }, { idempotencyKey: `${keyPrefix}0` });
    expect((await bus.list({ domain })).map((c) => c.id)).toEqual([again.id]);
    const created = await bus.createBatch({
      id: batchId,
      commands: [{ domain, type: 'Job', data: {} }],
    });
    expect(created.counts.total).toBe(1);
  });

  it.each([
    ['after the commit', 'committed' as const],
    ['after listing it as open', 'listed' as const],
  ])(
    'rolls forward a batch whose creator died %s: its commands run and it finishes',
    async (_when, stopAt) => {
      const domain = `${stopAt}-${randomUUID().slice(0, 8)}`;
      const batchId = randomUUID();
      await createAndKill({
        url: REDIS_URL,
        prefix,
        batchId,
        domain,
        keyPrefix: `k-${randomUUID().slice(0, 8)}-`,
        chunkSize: 40,
        stopAt,
      });
      expect(await bus.list({ domain })).toEqual([]); // committed, not yet claimable
      const open = await backend.client.zscore(backend.keys.openBatches, batchId);
      expect(open === null).toBe(stopAt === 'committed');
      // Not yet listed as open, the batch is found once abandoned.
      if (stopAt === 'committed') await ageStaging(batchId);
      const handled = new Set<number>();
      bus.handle(domain, 'Job', (data: { n: number }) => {
        handled.add(data.n);
      });
      const worker = await bus.worker({ pollIntervalMs: 100 }).start();
      try {
        // No creator is left: the worker's sweep makes the commands claimable.
        await waitUntil(
          async () => (await bus.getBatch(batchId)).finishedAt !== null,
          30_000,
          'the batch is finished',
        );
      } finally {
        await worker.stop(2000);
      }
      expect(handled.size).toBe(80);
      expect(await bus.getBatch(batchId)).toMatchObject({
        status: 'completed',
        counts: { total: 80, completed: 80, pending: 0 },
      });
      expect(await backend.client.zscore(backend.keys.stagingBatches, batchId)).toBeNull();
    },
  );

  it('moves a batch marked finished but left among the open ones to the finished ones, where retention finds it', async () => {
    const domain = `finished-${randomUUID().slice(0, 8)}`;
    const batch = await bus.createBatch({ commands: [{ domain, type: 'T', data: {} }] });
    const leaseToken = randomUUID();
    const [claimed] = await backend.claim({
      workerId: 'w',
      domain,
      types: null,
      limit: 1,
      leaseMs: 60_000,
      leaseToken,
    });
    await backend.settle({
      workerId: 'w',
      settlements: [
        {
          kind: 'complete',
          id: claimed!.id,
          leaseToken,
          attempt: claimed!.attempts,
          domain,
          resultJson: null,
        },
      ],
    });
    // The finish's first write (the record), and then the process died before its second
    // (the move between the sets): the lower-level steps, in that order.
    const key = backend.keys.batch(batch.id);
    expect(
      await runScript(backend.client, 'batchFinish', [key], ['completed', '']),
    ).toBeGreaterThan(0);
    expect(await backend.client.zscore(backend.keys.openBatches, batch.id)).not.toBeNull();

    expect(await backend.finishBatches({})).toEqual([]);
    expect(await backend.client.zscore(backend.keys.openBatches, batch.id)).toBeNull();
    const finishedAt = (await bus.getBatch(batch.id)).finishedAt!.getTime();
    expect(Number(await backend.client.zscore(backend.keys.finishedBatches, batch.id))).toBe(
      finishedAt,
    );
    await waitUntil(
      async () => {
        await backend.prune({ olderThanMs: 0, limit: 1000 });
        return (await backend.getBatch(batch.id)) === null;
      },
      10_000,
      'retention deletes the finished batch',
    );
  });
});
