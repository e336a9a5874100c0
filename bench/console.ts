/**
 * `npm --prefix bench run bench:console` — the console's speed (issue 20, "Speed"):
 *
 *   queries   a retained history filled in SQL (10,000,000 commands on PostgreSQL by
 *             default), then the overview, filtered command pages and troubleshooting
 *             groups, each timed many times (p50/p95/p99), through the library's calls
 *             and, where src/console exists, through the HTTP API on 127.0.0.1
 *   drain     a drain of N commands with 0 and with 20 live console clients (SSE)
 *   load      1,000,000 commands queued: createBatch against sendMany chunks, and the
 *             load generator where it exists
 *
 *   --store postgres|pglite|redis   (default postgres; redis: db 11, filled through the
 *                             library, and the drain and load parts stay on PostgreSQL)
 *   --count N                 retained commands (default 10,000,000; others 1,000,000)
 *   --parts a,b               queries, drain, load (default all)
 *   --keep                    keep the filled schema (and reuse it next time: filling
 *                             takes minutes); default: dropped at the end
 *   --reps N                  timed repetitions per query (default 200)
 *   --pairs N                 drain pairs (0 and 20 clients, order alternating; default 4)
 *   --quick                   tiny counts: checks the harness, not the speed
 *
 * Only 127.0.0.1; every part stops by itself. Raw numbers: bench/results/console-*.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { CommandBus } from '../src/bus/bus.js';
import type { SqlBackend } from '../src/backends/sql/sql-backend.js';
import { fillCommands, setBatchRanges } from './console-fill.js';
import { fillThroughLibrary } from './console-fill-redis.js';
import type { Known } from './console-queries.js';
import { measureQueries } from './console-measure.js';
import { measureDrain } from './console-drain.js';
import { measureLoad } from './console-load.js';
import { RESULTS_DIR } from './host-client.js';
import { dropSchema, openStore, type Log, type StoreName } from './console-store.js';

const SCHEMA = 'bench_console';
/** Redis db 11: the tests use 5, the peers' benchmark 9. */
const REDIS_URL = 'redis://127.0.0.1:6379/11';

const started = performance.now();
const log: Log = (message) =>
  console.log(
    `[${((performance.now() - started) / 1000).toFixed(0).padStart(5)} s, load ${loadavg()[0]!.toFixed(1)}] ${message}`,
  );

/** Filter values that exist in the filled store. */
async function knownValues(backend: SqlBackend, count: number): Promise<Known> {
  const t = `"${backend.schema}"`;
  const times = (
    await backend.driver.query<{ newest: Date; oldest: Date }>(
      `SELECT max(created_at) AS newest, min(created_at) AS oldest FROM ${t}.commands`,
    )
  ).rows[0]!;
  const batch = (
    await backend.driver.query<{ id: string }>(
      `SELECT id FROM ${t}.batches ORDER BY id LIMIT 1 OFFSET (SELECT count(*) / 2 FROM ${t}.batches)`,
    )
  ).rows[0]!;
  return {
    batchId: batch.id,
    // the fill gives 'corr-<k>' to rows i with i / 5 = k, k a multiple of 5
    correlationId: `corr-${5 * Math.floor(count / 50)}`,
    recent: new Date(new Date(times.newest).getTime() - 3_600_000),
    midway: new Date((new Date(times.newest).getTime() + new Date(times.oldest).getTime()) / 2),
  };
}

interface QueryOptions {
  count: number;
  reps: number;
  quick: boolean;
  keep: boolean;
}

/** Fills (unless the store holds the count already) and measures a SQL store. */
async function sqlQueries(store: 'postgres' | 'pglite', o: QueryOptions): Promise<unknown> {
  const dataDir = store === 'pglite' ? await mkdtemp(join(tmpdir(), 'bench-console-')) : '';
  const opening = performance.now();
  const backend = await openStore(store, o.quick ? `${SCHEMA}_quick` : SCHEMA, dataDir);
  log(`store open and migrated in ${((performance.now() - opening) / 1000).toFixed(1)} s`);
  try {
    const total = (await backend.admin.countCommands({})).reduce((s, c) => s + c.count, 0);
    if (total !== o.count) {
      log(`filling ${o.count.toLocaleString('en')} commands (the store held ${total})`);
      await backend.driver.query(`TRUNCATE "${backend.schema}".commands,
        "${backend.schema}".batches, "${backend.schema}".command_counts`);
      await fillCommands(backend.driver, backend.schema, {
        count: o.count,
        troubleshooting: o.quick ? 200 : Math.round(o.count / 500),
        pendingCount: Math.round(o.count * 0.003),
        chunk: 500_000,
        log,
      });
      await backend.admin.recountCommands();
      await backend.driver.query(`VACUUM ANALYZE "${backend.schema}".commands`);
      await backend.driver.query('CHECKPOINT').catch(() => {});
      log('filled');
    } else log(`reusing the ${o.count.toLocaleString('en')} commands already there`);
    await setBatchRanges(backend.driver, backend.schema);
    const bus = new CommandBus({ backend });
    const known = await knownValues(backend, o.count);
    const measured = await measureQueries(bus, { reps: o.reps, log, quick: o.quick, known });
    if (!o.keep) await dropSchema(backend);
    await bus.close();
    return measured;
  } finally {
    await backend.close().catch(() => {});
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }
}

/** Redis db 11, emptied first and at the end (unless kept); filled through the library. */
async function redisQueries(o: QueryOptions): Promise<unknown> {
  const { createRedisBackend } = await import('../src/backends/redis/index.js');
  const backend = await createRedisBackend({ url: REDIS_URL, prefix: SCHEMA });
  // the fill's handlers fail on purpose, 2,000 times: no warning for each
  const bus = new CommandBus({ backend, logger: pino({ level: 'error' }) });
  const { Redis } = await import('ioredis');
  const redis = new Redis(REDIS_URL);
  const knownKey = `${SCHEMA}:bench-known`;
  try {
    const total = (await bus.counts()).reduce((s, c) => s + c.count, 0);
    const saved = await redis.get(knownKey);
    let known: Known;
    if (total === o.count && saved) {
      log(`reusing the ${o.count.toLocaleString('en')} commands already there`);
      const k = JSON.parse(saved) as Record<keyof Known, string>;
      known = { ...k, recent: new Date(k.recent), midway: new Date(k.midway) };
    } else {
      log(`filling ${o.count.toLocaleString('en')} commands through the library`);
      await redis.flushdb();
      known = await fillThroughLibrary(bus, {
        count: o.count,
        troubleshooting: o.quick ? 200 : Math.round(o.count / 500),
        pendingCount: Math.round(o.count * 0.003),
        log,
      });
      await redis.set(knownKey, JSON.stringify(known));
      log('filled');
    }
    const measured = await measureQueries(bus, { reps: o.reps, log, quick: o.quick, known });
    if (!o.keep) await redis.flushdb();
    return measured;
  } finally {
    redis.disconnect();
    await bus.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      store: { type: 'string', default: 'postgres' },
      count: { type: 'string' },
      parts: { type: 'string', default: 'queries,drain,load' },
      keep: { type: 'boolean', default: false },
      reps: { type: 'string' },
      quick: { type: 'boolean', default: false },
      pairs: { type: 'string' },
    },
  });
  const store = values.store as StoreName | 'redis';
  if (store !== 'postgres' && store !== 'pglite' && store !== 'redis')
    throw new Error(
      `--store must be postgres, pglite or redis; got ${JSON.stringify(values.store)}`,
    );
  const quick = values.quick;
  const count = Number(values.count ?? (quick ? 20_000 : store === 'postgres' ? 1e7 : 1e6));
  const reps = Number(values.reps ?? (quick ? 10 : 200));
  const pairs = values.pairs === undefined ? undefined : Number(values.pairs);
  for (const [name, n] of [
    ['--count', count],
    ['--reps', reps],
    ['--pairs', pairs ?? 1],
  ] as const)
    if (!Number.isInteger(n) || n < 1)
      throw new Error(`${name} must be a whole number of at least 1`);
  const parts = new Set(values.parts.split(',').map((p) => p.trim()));
  for (const p of parts)
    if (!['queries', 'drain', 'load'].includes(p))
      throw new Error(`--parts: unknown part ${JSON.stringify(p)}; known: queries, drain, load`);
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    store,
    count,
    node: process.version,
    // other work on the machine: its 1-minute load average at each part's start and end
    machineLoad: [] as { part: string; at: string; load1: number }[],
  };
  const loadAt = (part: string) =>
    (results.machineLoad as { part: string; at: string; load1: number }[]).push({
      part,
      at: new Date().toISOString(),
      load1: loadavg()[0]!,
    });
  mkdirSync(RESULTS_DIR, { recursive: true });
  const save = () =>
    writeFileSync(
      join(RESULTS_DIR, `console-${store}${quick ? '-quick' : ''}.json`),
      JSON.stringify(results, null, 2),
    );

  if (parts.has('queries')) {
    loadAt('queries');
    const options = { count, reps, quick, keep: values.keep };
    results.queries =
      store === 'redis' ? await redisQueries(options) : await sqlQueries(store, options);
    save();
  }
  if (parts.has('drain')) {
    loadAt('drain');
    results.drain = await measureDrain({
      quick,
      log,
      pairs,
    });
    save();
  }
  if (parts.has('load')) {
    loadAt('load');
    results.load = await measureLoad({ quick, log });
    save();
  }
  loadAt('end');
  save();
  log('done');
}

await main();
