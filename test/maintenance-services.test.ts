/**
 * A worker's maintenance services (src/worker/services.ts) on real stores: a 'store'
 * service runs in one worker of the store at a time, whichever store, process or
 * connection pool the workers use, and another worker takes it over when its holder
 * stops or dies; a 'worker' service runs in each; a failing service is logged and runs
 * again; stop aborts and waits for a run; an application's service runs in a worker.
 */
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../src/backends/backend.js';
import { createPGliteBackend } from '../src/backends/pglite/index.js';
import { createPostgresBackend } from '../src/backends/postgres/index.js';
import { createRedisBackend } from '../src/backends/redis/index.js';
import type { SqlBackend } from '../src/backends/sql/sql-backend.js';
import { CommandBus } from '../src/bus/bus.js';
import { ConfigurationError } from '../src/core/errors.js';
import { ServiceRunner, serviceLeaseKey, type MaintenanceService } from '../src/worker/services.js';
import { waitUntil } from './fixtures/wait-until.js';
import {
  overlaps,
  readServiceRuns,
  recordingService,
  SERVICE_RUNS_DDL,
  type ServiceRun,
} from './fixtures/service-runs.js';
import { dropSchema, uniqueSchema } from './helpers/postgres.js';
import { deletePrefix, redisAvailable, REDIS_URL, uniquePrefix } from './helpers/redis.js';
import { POSTGRES_URL, requireServer } from './helpers/servers.js';

const postgresUp = await requireServer('PostgreSQL', 5432);
const redisUp = await redisAvailable();
const quiet = pino({ level: 'silent' });

/** `n` backends on one store, as `n` workers in as many processes would open it. */
interface SharedStore {
  backends: Backend[];
  close(): Promise<void>;
}

const stores: { name: string; up: boolean; open: (n: number) => Promise<SharedStore> }[] = [
  {
    name: 'PGlite',
    up: true,
    // one embedded database in one process: its workers share the backend
    open: async (n) => {
      const backend = await createPGliteBackend();
      await backend.migrate();
      return { backends: Array.from({ length: n }, () => backend), close: () => backend.close() };
    },
  },
  {
    name: 'PostgreSQL',
    up: postgresUp,
    open: async (n) => {
      const schema = uniqueSchema('services');
      const backends: SqlBackend[] = [];
      for (let i = 0; i < n; i++) {
        const backend = await createPostgresBackend({ connectionString: POSTGRES_URL, schema });
        if (i === 0) await backend.migrate();
        backends.push(backend);
      }
      return {
        backends,
        close: async () => {
          await Promise.all(backends.map((b) => b.close()));
          await dropSchema(POSTGRES_URL, schema);
        },
      };
    },
  },
  {
    name: 'Redis',
    up: redisUp,
    open: async (n) => {
      const prefix = uniquePrefix('services');
      const backends: Backend[] = [];
      for (let i = 0; i < n; i++)
        backends.push(await createRedisBackend({ url: REDIS_URL, prefix }));
      return {
        backends,
        close: async () => {
          await Promise.all(backends.map((b) => b.close()));
          await deletePrefix(prefix);
        },
      };
    },
  },
];

/** A service whose runs are recorded by this process's clock, with who ran them. */
function timedService(
  runs: ServiceRun[],
  scope: 'store' | 'worker',
  workerId: string,
  runMs: (nth: number) => number,
  name = 'timed',
): MaintenanceService {
  return {
    name,
    everyMs: 50,
    jitterMs: 20,
    scope,
    run: async () => {
      const run: ServiceRun = { workerId, start: performance.now(), end: null };
      runs.push(run);
      await delay(runMs(runs.length));
      run.end = performance.now();
    },
  };
}

/** The real backend with releaseSlot doing nothing: a holder that dies keeps its lease. */
function neverReleases(backend: Backend): Backend {
  return new Proxy(backend, {
    get(target, key, receiver) {
      if (key === 'releaseSlot') return () => Promise.resolve();
      const value: unknown = Reflect.get(target, key, receiver);
      return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
    },
  });
}

const runners: ServiceRunner[] = [];
function runner(services: MaintenanceService[], backend: Backend, workerId: string) {
  const r = new ServiceRunner(services, { backend, workerId, logger: quiet });
  runners.push(r);
  r.start();
  return r;
}
afterEach(async () => {
  await Promise.all(runners.splice(0).map((r) => r.stop()));
});

describe.each(stores)('maintenance services on $name', ({ up, open }) => {
  let store: SharedStore;
  beforeAll(async () => {
    if (up) store = await open(3);
  });
  afterAll(async () => {
    if (up) await store.close();
  });

  it.runIf(up)(
    'runs a store-wide service in one of three workers at a time, and in another once its holder stops',
    async () => {
      const runs: ServiceRun[] = [];
      // The first run outlasts the lease (1 s): its renewals keep the others out meanwhile.
      const runMs = (nth: number) => (nth === 1 ? 1500 : 20);
      const ids = ['w1', 'w2', 'w3'];
      const all = ids.map((id, i) =>
        runner([timedService(runs, 'store', id, runMs)], store.backends[i]!, id),
      );
      await waitUntil(() => runs.filter((r) => r.end !== null).length >= 5, 10_000, '5 runs');
      const holder = runs[0]!.workerId;
      // the holder keeps the lease from turn to turn: the others never got it
      expect(new Set(runs.map((r) => r.workerId))).toEqual(new Set([holder]));
      await all[ids.indexOf(holder)]!.stop();
      const handedOver = runs.length;
      await waitUntil(
        () => runs.slice(handedOver).filter((r) => r.end !== null).length >= 3,
        10_000,
        'another worker ran the service',
      );
      await Promise.all(all.map((r) => r.stop()));
      const after = new Set(runs.slice(handedOver).map((r) => r.workerId));
      expect(after.size).toBe(1);
      expect(after.has(holder)).toBe(false);
      expect(overlaps(runs)).toEqual([]);
    },
  );

  it.runIf(up)(
    'hands the service of a holder that died without releasing to another worker once its lease expires',
    async () => {
      const runs: ServiceRun[] = [];
      let lastRenewal = 0;
      const dying = neverReleases(store.backends[0]!);
      const tracked = new Proxy(dying, {
        get(target, key, receiver) {
          if (key !== 'acquireSlot') return Reflect.get(target, key, receiver) as unknown;
          return async (params: Parameters<Backend['acquireSlot']>[0]) => {
            const sentAt = performance.now();
            const held = await target.acquireSlot(params);
            if (held) lastRenewal = sentAt;
            return held;
          };
        },
      });
      const name = `takeover-${randomUUID().slice(0, 8)}`;
      const a = runner([timedService(runs, 'store', 'a', () => 10, name)], tracked, 'a');
      await waitUntil(() => runs.length >= 1, 10_000, 'a ran');
      runner([timedService(runs, 'store', 'b', () => 10, name)], store.backends[1]!, 'b');
      await delay(300);
      expect(runs.filter((r) => r.workerId === 'b')).toEqual([]);
      // the holder stops as a killed worker would: no renewal, no release
      await a.stop();
      await waitUntil(() => runs.some((r) => r.workerId === 'b'), 10_000, 'b took over');
      const firstOfB = runs.find((r) => r.workerId === 'b')!.start;
      // the lease (1 s) ran out first; then b's next turn (50-70 ms) took it
      expect(firstOfB - lastRenewal).toBeGreaterThanOrEqual(1000 - 20);
      expect(firstOfB - lastRenewal).toBeLessThan(1000 + 2000);
      expect(overlaps(runs)).toEqual([]);
    },
  );

  it.runIf(up)('runs a worker service in every worker', async () => {
    const runs: ServiceRun[] = [];
    for (const [i, id] of ['w1', 'w2', 'w3'].entries())
      runner([timedService(runs, 'worker', id, () => 5)], store.backends[i]!, id);
    await waitUntil(
      () => ['w1', 'w2', 'w3'].every((id) => runs.filter((r) => r.workerId === id).length >= 2),
      10_000,
      'each worker ran its service twice',
    );
  });
});

describe('maintenance services: failures, stop, the worker option', () => {
  let backend: SqlBackend;
  beforeAll(async () => {
    backend = await createPGliteBackend();
    await backend.migrate();
  });
  afterAll(async () => {
    await backend.close();
  });

  it('logs a service that throws and runs it again at its next turn', async () => {
    const logged: { msg: string; service?: string; err?: { message: string } }[] = [];
    const logger = pino(
      { level: 'warn' },
      { write: (line: string) => logged.push(JSON.parse(line) as (typeof logged)[number]) },
    );
    let runs = 0;
    const service: MaintenanceService = {
      name: 'flaky',
      everyMs: 20,
      scope: 'worker',
      run: () => {
        runs++;
        // synchronously, then as a rejection
        if (runs === 1) throw new Error('first run fails');
        if (runs === 2) return Promise.reject(new Error('second run fails'));
        return Promise.resolve();
      },
    };
    const r = new ServiceRunner([service], { backend, workerId: 'flaky-worker', logger });
    runners.push(r);
    r.start();
    await waitUntil(() => runs >= 4, 10_000, 'the service ran again after failing');
    const failures = logged.filter((l) => l.service === 'flaky');
    expect(failures.map((l) => l.err?.message)).toEqual(['first run fails', 'second run fails']);
    expect(failures[0]!.msg).toMatch(/maintenance service flaky failed/);
  });

  it('aborts the signal of a run at stop and waits for the run to end', async () => {
    let signal: AbortSignal | undefined;
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    let ended = 0;
    const service: MaintenanceService = {
      name: 'long',
      everyMs: 10,
      scope: 'store',
      run: async (s) => {
        signal = s;
        started();
        await new Promise((resolve) => s.addEventListener('abort', resolve, { once: true }));
        await delay(100);
        ended = performance.now();
      },
    };
    const r = runner([service], backend, 'stopping-worker');
    await running;
    await r.stop();
    const stoppedAt = performance.now();
    expect(signal?.aborted).toBe(true);
    expect(ended).toBeGreaterThan(0);
    expect(ended).toBeLessThanOrEqual(stoppedAt);
    // and the lease was released: another worker gets it at once
    expect(
      await backend.acquireSlot({
        key: serviceLeaseKey('long'),
        limit: 1,
        holder: 'next-worker',
        leaseMs: 1000,
      }),
    ).toBe(true);
    await backend.releaseSlot({ key: serviceLeaseKey('long'), holder: 'next-worker' });
  });

  it("runs an application's services given as a worker option, with the built-in ones or without", async () => {
    const bus = new CommandBus({ backend, logger: quiet });
    bus.handle('svc', 'Noop', () => null);
    const ran = { store: 0, worker: 0 };
    const services: MaintenanceService[] = [
      {
        name: 'app-store',
        everyMs: 20,
        scope: 'store',
        run: () => Promise.resolve(void ran.store++),
      },
      {
        name: 'app-worker',
        everyMs: 20,
        scope: 'worker',
        run: () => Promise.resolve(void ran.worker++),
      },
    ];
    for (const maintenance of [true, false]) {
      ran.store = ran.worker = 0;
      const worker = await bus.worker({ services, maintenance, pollIntervalMs: 50 }).start();
      try {
        await waitUntil(() => ran.store >= 2 && ran.worker >= 2, 10_000, 'both services ran');
      } finally {
        await worker.stop();
      }
    }
  });

  it('refuses services that are not well formed, naming what is wrong', () => {
    const bus = new CommandBus({ backend, logger: quiet });
    bus.handle('svc', 'Noop', () => null);
    const run = () => Promise.resolve();
    const bad: [MaintenanceService, RegExp][] = [
      [{ name: 'prune', everyMs: 10, scope: 'worker', run }, /named prune; names must be unique/],
      [{ name: 'a/b', everyMs: 10, scope: 'worker', run }, /name must be/],
      [{ name: 'x', everyMs: 0, scope: 'worker', run }, /everyMs must be a positive number/],
      [{ name: 'x', everyMs: 10, jitterMs: -1, scope: 'worker', run }, /jitterMs must be zero/],
      [{ name: 'x', everyMs: 10, scope: 'everywhere' as 'store', run }, /scope must be 'store'/],
    ];
    for (const [service, message] of bad) {
      expect(() => bus.worker({ services: [service] })).toThrow(ConfigurationError);
      expect(() => bus.worker({ services: [service] })).toThrow(message);
    }
  });
});

describe.runIf(postgresUp)('maintenance services across processes (PostgreSQL)', () => {
  const schema = uniqueSchema('services_proc');
  let backend: SqlBackend;
  beforeAll(async () => {
    backend = await createPostgresBackend({ connectionString: POSTGRES_URL, schema });
    await backend.migrate();
    await backend.driver.query(SERVICE_RUNS_DDL(schema));
  });
  afterAll(async () => {
    await backend.close();
    await dropSchema(POSTGRES_URL, schema);
  });

  it('takes over the service of a holder process killed with SIGKILL, never running it twice at once', async () => {
    const script = fileURLToPath(new URL('./fixtures/service-holder.ts', import.meta.url));
    const child = fork(script, [], {
      execArgv: ['--import', 'tsx'],
      env: {
        ...process.env,
        DISPATCHBOX_SERVICE_HOLDER: JSON.stringify({
          url: POSTGRES_URL,
          schema,
          workerId: 'child',
        }),
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      let childRuns = 0;
      child.on('message', (m: { kind: string }) => {
        if (m.kind === 'ran') childRuns++;
      });
      await waitUntil(() => childRuns >= 3, 30_000, 'the child process ran the service');
      // this process's worker starts while the child holds the lease, and waits
      runner([recordingService(backend.driver, schema, 'parent')], backend, 'parent');
      await delay(300);
      child.kill('SIGKILL');
      await exited;
      const { rows } = await backend.driver.query<{ now: number }>(
        `SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS now`,
      );
      const killedAt = Number(rows[0]!.now);
      await waitUntil(
        async () =>
          (await readServiceRuns(backend.driver, schema)).some(
            (r) => r.workerId === 'parent' && r.end !== null,
          ),
        10_000,
        'this process took the service over',
      );
      const runs = await readServiceRuns(backend.driver, schema);
      // a run the kill cut short ended with the process
      const ended = runs.map((r) => (r.end === null ? { ...r, end: killedAt } : r));
      expect(overlaps(ended)).toEqual([]);
      const firstOfParent = runs.find((r) => r.workerId === 'parent')!.start;
      const lastOfChild = Math.max(
        ...runs.filter((r) => r.workerId === 'child').map((r) => r.start),
      );
      expect(firstOfParent).toBeGreaterThan(killedAt);
      // within the lease (1 s) from the child's last renewal, plus one turn and some slack
      expect(firstOfParent - lastOfChild).toBeLessThan(1000 + 2000);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});
