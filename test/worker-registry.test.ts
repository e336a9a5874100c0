import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../src/backends/backend.js';
import { createPGliteBackend } from '../src/backends/pglite/index.js';
import { createPostgresBackend } from '../src/backends/postgres/index.js';
import { createRedisBackend, type RedisBackend } from '../src/backends/redis/index.js';
import type { SqlBackend } from '../src/backends/sql/sql-backend.js';
import type { UpsertWorkerParams, WorkerEntry } from '../src/backends/worker-registry.js';
import { CommandBus } from '../src/bus/bus.js';
import { ConfigurationError, ValidationError } from '../src/core/errors.js';
import type { Worker } from '../src/worker/worker.js';
import { waitUntil } from './fixtures/wait-until.js';
import { dropSchema, uniqueSchema } from './helpers/postgres.js';
import { deletePrefix, redisAvailable, REDIS_URL, uniquePrefix } from './helpers/redis.js';
import { POSTGRES_URL, requireServer } from './helpers/servers.js';

const VERSION = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;

interface StoreUnderTest {
  name: string;
  available: boolean;
  open(): Promise<{ backend: Backend; url: string | null; schema: string }>;
  cleanup(schema: string): Promise<void>;
  /** Makes every write of the registry fail in the store itself (the last test's). */
  breakRegistry(backend: Backend, schema: string): Promise<void>;
}

const dropTable = async (backend: Backend, schema: string) => {
  await (backend as SqlBackend).driver.query(`DROP TABLE "${schema}".workers`);
};

const stores: StoreUnderTest[] = [
  {
    name: 'PGlite',
    available: true,
    open: async () => {
      const backend = await createPGliteBackend();
      await backend.migrate();
      return { backend, url: null, schema: 'dispatchbox' };
    },
    cleanup: () => Promise.resolve(),
    breakRegistry: dropTable,
  },
  {
    name: 'PostgreSQL',
    available: await requireServer('PostgreSQL', 5432),
    open: async () => {
      const schema = uniqueSchema('registry');
      const backend = await createPostgresBackend({ connectionString: POSTGRES_URL, schema });
      await backend.migrate();
      return { backend, url: POSTGRES_URL, schema };
    },
    cleanup: (schema) => dropSchema(POSTGRES_URL, schema),
    breakRegistry: dropTable,
  },
  {
    name: 'Redis',
    available: await redisAvailable(),
    open: async () => {
      const prefix = uniquePrefix('registry');
      const backend = await createRedisBackend({ url: REDIS_URL, prefix });
      await backend.migrate();
      return { backend, url: REDIS_URL, schema: prefix };
    },
    cleanup: async (prefix) => {
      await deletePrefix(prefix);
    },
    // the index becomes a string: every script's ZADD on it fails with WRONGTYPE
    breakRegistry: async (backend) => {
      const redis = backend as RedisBackend;
      await redis.client.set(redis.keys.workers, 'not a sorted set');
    },
  },
];

const silent = pino({ level: 'silent' });
const domainName = () => `reg_${Math.random().toString(36).slice(2, 10)}`;

function registration(id: string, staleAfterMs: number, forgetAfterMs: number): UpsertWorkerParams {
  return {
    info: {
      id,
      host: 'host-a',
      pid: 4242,
      domains: ['billing'],
      types: ['charge'],
      concurrency: 4,
      startedAt: new Date(),
      counters: { completed: 1 },
      version: '9.9.9',
    },
    staleAfterMs,
    forgetAfterMs,
  };
}

for (const store of stores) {
  describe.runIf(store.available)(`worker registry: ${store.name}`, () => {
    let backend: Backend;
    let url: string | null;
    let schema: string;
    let bus: CommandBus;
    const running = new Set<Worker>();

    beforeAll(async () => {
      ({ backend, url, schema } = await store.open());
      bus = new CommandBus({ backend, logger: silent });
    });
    afterAll(async () => {
      for (const worker of running) await worker.stop();
      await backend?.close();
      if (schema) await store.cleanup(schema);
    });

    const find = async (id: string): Promise<WorkerEntry | undefined> =>
      (await bus.workers()).find((w) => w.id === id);

    async function startWorker(domain: string, options: Parameters<CommandBus['worker']>[0]) {
      bus.handle(domain, 'ping', () => Promise.resolve('pong'));
      const worker = bus.worker({ pollIntervalMs: 50, domains: [domain], ...options });
      running.add(worker);
      return worker.start();
    }

    it('a started worker is listed with its fields, its counters advance, and a graceful stop marks it stopped', async () => {
      const domain = domainName();
      const worker = await startWorker(domain, {
        concurrency: 3,
        registration: { refreshMs: 100 },
      });
      // recorded before it claims: listed as soon as start() resolves
      const first = await find(worker.workerId);
      expect(first).toMatchObject({
        id: worker.workerId,
        host: hostname(),
        pid: process.pid,
        domains: [domain],
        types: null,
        concurrency: 3,
        version: VERSION,
        status: 'alive',
        staleAfterMs: 300,
        stoppedAt: null,
      });
      expect(first!.counters).toMatchObject({ started: 0, completed: 0 });
      expect(Math.abs(first!.startedAt.getTime() - Date.now())).toBeLessThan(60_000);

      for (let i = 0; i < 3; i++) await bus.send(domain, 'ping', { i });
      await waitUntil(() => worker.stats.completed === 3, 10_000, 'the worker completed 3');
      // the next refresh carries the counters and moves last seen on
      await waitUntil(
        async () => (await find(worker.workerId))?.counters['completed'] === 3,
        5000,
        'the registry shows 3 completed',
      );
      const refreshed = (await find(worker.workerId))!;
      expect(refreshed.counters).toMatchObject({ started: 3, completed: 3, retried: 0 });
      expect(refreshed.lastSeenAt.getTime()).toBeGreaterThan(first!.lastSeenAt.getTime());
      expect(refreshed.status).toBe('alive');

      await worker.stop();
      running.delete(worker);
      const stopped = (await find(worker.workerId))!;
      expect(stopped.status).toBe('stopped');
      expect(stopped.stoppedAt).toBeInstanceOf(Date);
      expect(stopped.counters['completed']).toBe(3);
    });

    it('lists two workers of one store, each with its own domains and types', async () => {
      const a = await startWorker(domainName(), { concurrency: 2 });
      const domainB = domainName();
      const b = await startWorker(domainB, { types: ['ping'], concurrency: 5 });
      const listed = await bus.workers();
      const ids = listed.map((w) => w.id);
      expect(ids).toContain(a.workerId);
      expect(ids).toContain(b.workerId);
      const entryB = listed.find((w) => w.id === b.workerId)!;
      expect(entryB).toMatchObject({ domains: [domainB], types: ['ping'], concurrency: 5 });
      for (const w of [a, b]) {
        await w.stop();
        running.delete(w);
      }
    });

    it('a worker that stops refreshing is listed as stale, then forgotten', async () => {
      const id = `silent-${domainName()}`;
      await backend.workers.upsertWorker(registration(id, 300, 1500));
      const fresh = await find(id);
      expect(fresh).toMatchObject({
        status: 'alive',
        host: 'host-a',
        pid: 4242,
        types: ['charge'],
        version: '9.9.9',
      });
      expect(fresh!.counters).toEqual({ completed: 1 });
      await waitUntil(async () => (await find(id))?.status === 'stale', 5000, 'it is stale');
      expect((await find(id))!.silentMs).toBeGreaterThan(300);
      await waitUntil(async () => (await find(id)) === undefined, 5000, 'it is forgotten');
    });

    it('a stopped worker is kept until forgotten; removeWorker forgets at once', async () => {
      const stopped = `stopped-${domainName()}`;
      await backend.workers.upsertWorker(registration(stopped, 300, 60_000));
      await backend.workers.stopWorker({
        id: stopped,
        counters: { completed: 7 },
        forgetAfterMs: 500,
      });
      expect(await find(stopped)).toMatchObject({ status: 'stopped', counters: { completed: 7 } });
      await waitUntil(async () => (await find(stopped)) === undefined, 5000, 'it is forgotten');

      const removed = `removed-${domainName()}`;
      await backend.workers.upsertWorker(registration(removed, 300, 60_000));
      await backend.workers.removeWorker(removed);
      expect(await find(removed)).toBeUndefined();
      await backend.workers.removeWorker(removed); // already gone: a no-op
    });

    it('refuses oversized or malformed records with a clear error and writes nothing', async () => {
      const id = `bad-${domainName()}`;
      const bad = registration(id, 300, 60_000);
      await expect(
        backend.workers.upsertWorker({ ...bad, info: { ...bad.info, host: 'h'.repeat(300) } }),
      ).rejects.toThrow(/host must be text of 1 to 255 characters; got 300 characters/);
      await expect(
        backend.workers.upsertWorker({
          ...bad,
          info: { ...bad.info, counters: { completed: -1 } },
        }),
      ).rejects.toThrow(ValidationError);
      await expect(
        backend.workers.upsertWorker({
          ...bad,
          info: { ...bad.info, domains: Array.from({ length: 1001 }, () => 'd') },
        }),
      ).rejects.toThrow(/domains must be a list of at most 1000 names/);
      await expect(backend.workers.upsertWorker({ ...bad, forgetAfterMs: 300 })).rejects.toThrow(
        /forgetAfterMs must be more than staleAfterMs/,
      );
      expect(await find(id)).toBeUndefined();
    });

    it('refuses bad registration options when the worker is made', () => {
      expect(() => bus.worker({ registration: { refreshMs: 0 } })).toThrow(ConfigurationError);
      expect(() => bus.worker({ registration: { refreshMs: 100, staleAfterMs: 50 } })).toThrow(
        /registration.staleAfterMs must be a whole number of ms, at least 101/,
      );
    });

    it('a worker made with registration: false is not recorded', async () => {
      const worker = await startWorker(domainName(), { registration: false });
      expect(await find(worker.workerId)).toBeUndefined();
      await worker.stop();
      running.delete(worker);
      expect(await find(worker.workerId)).toBeUndefined();
    });

    // the embedded database lives in this process: no other process can share it
    if (store.name !== 'PGlite')
      it('a worker process killed with kill -9 turns stale, then disappears', async () => {
        const script = fileURLToPath(new URL('./fixtures/registry-worker.ts', import.meta.url));
        const config = {
          databaseUrl: url,
          schema,
          domain: domainName(),
          refreshMs: 100,
          staleAfterMs: 500,
          forgetAfterMs: 2500,
        };
        const child = fork(script, [], {
          execArgv: ['--import', 'tsx'],
          env: { ...process.env, DISPATCHBOX_REGISTRY_WORKER: JSON.stringify(config) },
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        });
        const exited = new Promise((resolve) => child.once('exit', resolve));
        try {
          const id = await new Promise<string>((resolve, reject) => {
            child.once('message', (m: { workerId: string }) => resolve(m.workerId));
            child.once('exit', (code) => reject(new Error(`the worker exited early (${code})`)));
          });
          expect((await find(id))?.status).toBe('alive');
          child.kill('SIGKILL');
          await exited;
          await waitUntil(async () => (await find(id))?.status === 'stale', 5000, 'it is stale');
          await waitUntil(async () => (await find(id)) === undefined, 8000, 'it is forgotten');
        } finally {
          child.kill('SIGKILL');
        }
      }, 30_000);

    // the last test of the store: it breaks the registry for good
    it('a refresh the store refuses is logged and tried again; the worker keeps working and stops', async () => {
      const logged: { level: number; msg: string }[] = [];
      const logger = pino(
        { level: 'warn' },
        {
          write: (line: string) => logged.push(JSON.parse(line) as { level: number; msg: string }),
        },
      );
      const quiet = new CommandBus({ backend, logger });
      const domain = domainName();
      quiet.handle(domain, 'ping', () => Promise.resolve('pong'));
      const worker = await quiet
        .worker({ domains: [domain], pollIntervalMs: 50, registration: { refreshMs: 50 } })
        .start();
      running.add(worker);
      await store.breakRegistry(backend, schema);
      await waitUntil(
        () =>
          logged.filter((l) => l.msg.startsWith('maintenance service worker-registry failed'))
            .length >= 2,
        5000,
        'two failed refreshes are logged',
      );
      await quiet.send(domain, 'ping', {});
      await waitUntil(() => worker.stats.completed === 1, 10_000, 'the worker still completes');
      await worker.stop();
      running.delete(worker);
      expect(logged.map((l) => l.msg)).toContain('worker registry: marking stopped failed');
      expect(logged.every((l) => l.level === 40)).toBe(true);
    });
  });
}
