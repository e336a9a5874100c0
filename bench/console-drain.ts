/**
 * Does an open console slow the workers? A drain of N commands on PostgreSQL, timed from
 * the worker's start to the last handler, with no console client and with 20 (each a live
 * page: an SSE stream of /api/events and a GET of /api/overview every 5 s, see
 * console-clients.ts), served from a second process as a deployment would. The two take
 * turns, the order alternating (0/20, 20/0, ...) so that a drift of the machine falls on
 * both; the ratio of the median rates is the answer (target: 20 clients slow it < 5 %).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { CommandBus } from '../src/bus/bus.js';
import { consoleExists } from './console-http.js';
import { dropSchema, openStore, type Log } from './console-store.js';
import { median } from './stats.js';

const SCHEMA = 'bench_console_drain';
const DOMAIN = 'drain';
const CLIENTS = 20;

export interface DrainRun {
  clients: number;
  rate: number;
  ms: number;
  /** CPU time of the worker's process (this one) during the drain. */
  workerCpuMs: number;
  /** What the clients received during the run (events, bytes, overviews, errors). */
  received?: unknown;
}

export interface DrainResult {
  count: number;
  runs: DrainRun[];
  rateWithout: number;
  rateWith: number;
  /** rateWith / rateWithout (medians): 0.95 or more meets the target. */
  ratio: number;
  /** The same ratio within each pair of neighbouring runs, and their median. */
  pairRatios: number[];
  medianPairRatio: number;
}

/** Starts the clients' process; resolves once every client has had its first event. */
async function startClients(clients: number): Promise<{
  child: ChildProcess;
  stop(): Promise<unknown>;
}> {
  const script = fileURLToPath(new URL('./console-clients.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script, SCHEMA, String(clients)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.done || first.value !== 'ready')
    throw new Error(`the console clients did not start: ${String(first.value)}`);
  return {
    child,
    async stop() {
      child.stdin.end();
      const last = await lines.next();
      await once(child, 'exit');
      return last.done ? null : (JSON.parse(last.value) as unknown);
    },
  };
}

export async function measureDrain(options: {
  quick: boolean;
  log: Log;
  count?: number;
  pairs?: number;
}): Promise<DrainResult | null> {
  const { log } = options;
  if (!consoleExists()) {
    log('drain: no src/console on this branch, skipped');
    return null;
  }
  const count = options.count ?? (options.quick ? 2_000 : 200_000);
  const pairs = options.pairs ?? (options.quick ? 1 : 4);
  const backend = await openStore('postgres', SCHEMA);
  const bus = new CommandBus({ backend });
  let handled = 0;
  let allHandled: () => void = () => {};
  bus.handle(DOMAIN, 'noop', async () => {
    if (++handled === count) allHandled();
    await Promise.resolve();
  });
  const runs: DrainRun[] = [];
  try {
    for (let pair = 0; pair < pairs; pair++) {
      const order = pair % 2 === 0 ? [0, CLIENTS] : [CLIENTS, 0];
      for (const clients of order) {
        const t = `"${SCHEMA}"`;
        await backend.driver.query(`TRUNCATE ${t}.commands, ${t}.audit, ${t}.command_counts`);
        for (let from = 0; from < count; from += 1000)
          await bus.sendMany(
            Array.from({ length: Math.min(1000, count - from) }, (_, i) => ({
              domain: DOMAIN,
              type: 'noop',
              data: { i: from + i, pad: 'x'.repeat(100) },
            })),
          );
        await backend.driver.query(`ANALYZE ${t}.commands`);
        await backend.driver.query('CHECKPOINT');
        const live = clients > 0 ? await startClients(clients) : null;
        handled = 0;
        const done = new Promise<void>((resolve) => (allHandled = resolve));
        const began = performance.now();
        const cpuBefore = process.cpuUsage();
        const worker = await bus.worker({ concurrency: 32, domains: [DOMAIN] }).start();
        await done;
        const ms = performance.now() - began;
        const cpu = process.cpuUsage(cpuBefore);
        await worker.stop();
        const received = await live?.stop();
        const workerCpuMs = Math.round((cpu.user + cpu.system) / 1000);
        const run: DrainRun = { clients, ms, rate: (count / ms) * 1000, workerCpuMs, received };
        runs.push(run);
        log(
          `  drain ${count.toLocaleString('en')} with ${clients} clients: ${Math.round(run.rate).toLocaleString('en')}/s (${(ms / 1000).toFixed(2)} s, worker CPU ${workerCpuMs} ms)${received ? ` ${JSON.stringify(received)}` : ''}`,
        );
      }
    }
  } finally {
    await dropSchema(backend).catch(() => {});
    await bus.close();
  }
  const rateWithout = median(runs.filter((r) => r.clients === 0).map((r) => r.rate));
  const rateWith = median(runs.filter((r) => r.clients > 0).map((r) => r.rate));
  const ratio = rateWith / rateWithout;
  const pairRatios: number[] = [];
  for (let i = 0; i + 1 < runs.length; i += 2) {
    const [a, b] = [runs[i]!, runs[i + 1]!];
    pairRatios.push(a.clients > 0 ? a.rate / b.rate : b.rate / a.rate);
  }
  const medianPairRatio = median(pairRatios);
  log(
    `  drain: ${Math.round(rateWithout)}/s alone, ${Math.round(rateWith)}/s with ${CLIENTS} console clients: ratio ${ratio.toFixed(3)}; per pair ${pairRatios.map((r) => r.toFixed(2)).join(', ')}, median ${medianPairRatio.toFixed(3)} (target >= 0.95)`,
  );
  return { count, runs, rateWithout, rateWith, ratio, pairRatios, medianPairRatio };
}
