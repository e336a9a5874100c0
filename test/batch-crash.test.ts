/**
 * A process killed with SIGKILL between sending a batch's completion command and marking
 * the batch finished: after the restart the batch finishes and its completion command has
 * been sent (and handled) exactly once. On Redis the two are separate writes, and the
 * completion command's idempotency key turns the second send into a no-op; on the SQL
 * stores they share one transaction, which the kill rolls back.
 */
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Backend } from '../src/backends/backend.js';
import type { SqlBackend } from '../src/backends/sql/sql-backend.js';
import { CommandBus } from '../src/bus/bus.js';
import type { Worker } from '../src/worker/worker.js';
import {
  openStore,
  type BatchFinisherConfig,
  type BatchFinisherMessage,
  type FinisherStore,
} from './fixtures/batch-finisher.js';
import { waitUntil } from './fixtures/wait-until.js';
import { deletePrefix, redisAvailable, REDIS_URL, uniquePrefix } from './helpers/redis.js';
import { POSTGRES_URL, requireServer } from './helpers/servers.js';

const logger = pino({ level: 'silent' });
const stores: { name: string; available: boolean; make: () => Promise<FinisherStore> }[] = [
  {
    name: 'PostgreSQL',
    available: await requireServer('PostgreSQL', 5432),
    make: () =>
      Promise.resolve({
        kind: 'postgres',
        url: POSTGRES_URL,
        schema: `t_${randomUUID().replace(/-/g, '').slice(0, 16)}`,
      }),
  },
  {
    name: 'Redis',
    available: await redisAvailable(),
    make: () =>
      Promise.resolve({ kind: 'redis', url: REDIS_URL, prefix: uniquePrefix('batch-crash') }),
  },
  {
    name: 'embedded (PGlite)',
    available: true,
    make: async () => ({
      kind: 'pglite',
      dataDir: await mkdtemp(join(tmpdir(), 'dispatchbox-batch-crash-')),
      schema: 'crash',
    }),
  },
];

/** Runs the finisher until it reports the completion command sent, then kills it with SIGKILL. */
async function finishAndKill(config: BatchFinisherConfig): Promise<void> {
  const child = fork(fileURLToPath(new URL('./fixtures/batch-finisher.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, DISPATCHBOX_BATCH_FINISHER: JSON.stringify(config) },
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await new Promise<void>((resolve, reject) => {
      child.on('message', (message: BatchFinisherMessage) => {
        if (message.kind === 'sent') resolve();
        else reject(new Error(`the finisher ran to its end: ${JSON.stringify(message)}`));
      });
      void exited.then(() => reject(new Error(`the finisher exited:\n${stderr}`)));
    });
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
}

describe.each(stores)('batch finish crash: $name', ({ name, available, make }) => {
  let store: FinisherStore | undefined;
  let backend: Backend | undefined;
  let worker: Worker | undefined;

  afterEach(async () => {
    await worker?.stop(2000);
    if (backend && store?.kind === 'postgres')
      await (backend as SqlBackend).driver.query(`DROP SCHEMA "${store.schema}" CASCADE`);
    await backend?.close();
    if (store?.kind === 'redis') await deletePrefix(store.prefix);
    if (store?.kind === 'pglite') await rm(store.dataDir, { recursive: true, force: true });
  });

  it.runIf(available)(
    `sends the completion command exactly once when the finisher is killed after sending it (${name})`,
    async () => {
      store = await make();
      backend = await openStore(store);
      await backend.migrate();
      let bus = new CommandBus({ backend, logger });
      const domain = `bc-${randomUUID().slice(0, 8)}`;
      const batch = await bus.createBatch({
        commands: [0, 1].map((n) => ({ domain, type: 'Job', data: { n } })),
        onComplete: { domain, type: 'Done', data: {} },
      });
      // The members complete, but their worker dies before its batch check.
      const leaseToken = randomUUID();
      const claimed = await backend.claim({
        workerId: 'w',
        domain,
        types: ['Job'],
        limit: 2,
        leaseMs: 60_000,
        leaseToken,
      });
      const settled = await backend.settle({
        workerId: 'w',
        settlements: claimed.map((c) => ({
          kind: 'complete' as const,
          id: c.id,
          leaseToken,
          attempt: c.attempts,
          domain,
          resultJson: null,
        })),
      });
      expect(settled.applied).toHaveLength(2);

      // The embedded database belongs to one process at a time.
      if (store.kind === 'pglite') await backend.close();
      await finishAndKill({ store, batchId: batch.id });
      if (store.kind === 'pglite') {
        backend = await openStore(store);
        bus = new CommandBus({ backend, logger });
      }

      const done = await bus.list({ domain, type: 'Done' });
      const before = await bus.getBatch(batch.id);
      expect(before.finishedAt).toBeNull();
      // Redis kept the command sent before the kill; the SQL stores rolled it back.
      expect(done).toHaveLength(store.kind === 'redis' ? 1 : 0);

      // The restart: a worker whose maintenance sweeps the open batches.
      const handled: string[] = [];
      bus.handle(domain, 'Done', (_data, ctx) => {
        handled.push(ctx.command.id);
      });
      worker = await bus.worker({ pollIntervalMs: 100 }).start();
      await waitUntil(
        async () => (await bus.getBatch(batch.id)).finishedAt !== null && handled.length > 0,
        30_000,
        'the batch is finished and its completion command handled',
      );
      await worker.stop(2000);
      const after = await bus.getBatch(batch.id);
      const sent = await bus.list({ domain, type: 'Done' });
      expect(sent.map((c) => c.id)).toEqual([after.completionCommandId]);
      expect(handled).toEqual([after.completionCommandId]);
      expect(after).toMatchObject({ status: 'completed', counts: { completed: 2 } });
    },
  );
});
