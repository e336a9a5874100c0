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
 *   --store postgres|pglite   (default postgres)
 *   --count N                 retained commands (default 10,000,000; pglite 1,000,000)
 *   --parts a,b               queries, drain, load (default all)
 *   --keep                    keep the filled schema (and reuse it next time: filling
 *                             takes minutes); default: dropped at the end
 *   --reps N                  timed repetitions per query (default 200)
 *   --quick                   tiny counts: checks the harness, not the speed
 *
 * Only 127.0.0.1; every part stops by itself. Raw numbers: bench/results/console-*.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CommandBus } from '../src/bus/bus.js';
import type { SqlBackend } from '../src/backends/sql/sql-backend.js';
import { fillCommands } from './console-fill.js';
import type { Known } from './console-queries.js';
import { measureQueries } from './console-measure.js';
import { measureDrain } from './console-drain.js';
import { measureLoad } from './console-load.js';
import { RESULTS_DIR } from './host-client.js';
import { dropSchema, openStore, type Log, type StoreName } from './console-store.js';

const SCHEMA = 'bench_console';

const started = performance.now();
const log: Log = (message) =>
  console.log(`[${((performance.now() - started) / 1000).toFixed(0).padStart(5)} s] ${message}`);

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
    lastHour: new Date(new Date(times.newest).getTime() - 3_600_000),
    midway: new Date((new Date(times.newest).getTime() + new Date(times.oldest).getTime()) / 2),
  };
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
    },
  });
  const store = values.store as StoreName;
  if (store !== 'postgres' && store !== 'pglite')
    throw new Error(`--store must be postgres or pglite; got ${JSON.stringify(values.store)}`);
  const quick = values.quick;
  const count = Number(values.count ?? (quick ? 20_000 : store === 'pglite' ? 1e6 : 1e7));
  const reps = Number(values.reps ?? (quick ? 10 : 200));
  for (const [name, n] of [
    ['--count', count],
    ['--reps', reps],
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
  };
  mkdirSync(RESULTS_DIR, { recursive: true });
  const save = () =>
    writeFileSync(
      join(RESULTS_DIR, `console-${store}${quick ? '-quick' : ''}.json`),
      JSON.stringify(results, null, 2),
    );

  if (parts.has('queries')) {
    const dataDir = store === 'pglite' ? await mkdtemp(join(tmpdir(), 'bench-console-')) : '';
    const backend = await openStore(store, quick ? `${SCHEMA}_quick` : SCHEMA, dataDir);
    try {
      const total = (await backend.admin.countCommands({})).reduce((s, c) => s + c.count, 0);
      if (total !== count) {
        log(`filling ${count.toLocaleString('en')} commands (the store held ${total})`);
        await backend.driver.query(`TRUNCATE "${backend.schema}".commands,
          "${backend.schema}".batches, "${backend.schema}".command_counts`);
        await fillCommands(backend.driver, backend.schema, {
          count,
          troubleshooting: quick ? 200 : Math.round(count / 500),
          pendingCount: Math.round(count * 0.003),
          chunk: 500_000,
          log,
        });
        await backend.admin.recountCommands();
        await backend.driver.query(`VACUUM ANALYZE "${backend.schema}".commands`);
        await backend.driver.query('CHECKPOINT').catch(() => {});
        log('filled');
      } else log(`reusing the ${count.toLocaleString('en')} commands already there`);
      const bus = new CommandBus({ backend });
      const known = await knownValues(backend, count);
      results.queries = await measureQueries(bus, { reps, log, quick, known });
      save();
      if (!values.keep) await dropSchema(backend);
      await bus.close();
    } finally {
      await backend.close().catch(() => {});
      if (dataDir) await rm(dataDir, { recursive: true, force: true });
    }
  }
  if (parts.has('drain')) {
    results.drain = await measureDrain({ quick, log });
    save();
  }
  if (parts.has('load')) {
    results.load = await measureLoad({ quick, log });
    save();
  }
  log('done');
}

await main();
