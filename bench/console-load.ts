/**
 * The load generator's target: 1,000,000 commands queued in under 30 s on PostgreSQL.
 * Measured three ways on an empty schema each time: the way the generator sends (one
 * createBatch streamed in chunks, progress counted per chunk), sendMany in chunks (the
 * alternative), and, where the branch has the console, POST /api/load itself, timed until
 * its job reports done.
 */
import type { SendItem } from '../src/bus/bus.js';
import { CommandBus } from '../src/bus/bus.js';
import { getJson, serveConsole } from './console-http.js';
import { dropSchema, openStore, type Log } from './console-store.js';

const SCHEMA = 'bench_console_load';
const TYPES = ['send-email', 'charge-card', 'resize-image'];
const ODDS = { permanentPct: 2, transientPct: 5, timeoutPct: 1, minMs: 5, maxMs: 50 };

export interface LoadRun {
  how: string;
  count: number;
  seconds: number;
  rate: number;
}

function* demoCommands(count: number): Generator<SendItem> {
  for (let n = 0; n < count; n++)
    yield { domain: 'demo', type: TYPES[n % 3]!, data: { n, odds: ODDS } };
}

export async function measureLoad(options: {
  quick: boolean;
  log: Log;
  count?: number;
}): Promise<LoadRun[]> {
  const { log } = options;
  const count = options.count ?? (options.quick ? 10_000 : 1_000_000);
  const backend = await openStore('postgres', SCHEMA);
  const bus = new CommandBus({ backend });
  const runs: LoadRun[] = [];
  const t = `"${SCHEMA}"`;
  const timed = async (how: string, send: () => Promise<void>) => {
    await backend.driver.query(
      `TRUNCATE ${t}.commands, ${t}.audit, ${t}.command_counts, ${t}.batches`,
    );
    await backend.driver.query('CHECKPOINT');
    const began = performance.now();
    await send();
    const seconds = (performance.now() - began) / 1000;
    const stored = (await bus.counts('demo')).reduce((sum, c) => sum + c.count, 0);
    if (stored !== count) throw new Error(`${how}: ${stored} commands stored, not ${count}`);
    runs.push({ how, count, seconds, rate: count / seconds });
    log(
      `  ${how}: ${count.toLocaleString('en')} in ${seconds.toFixed(1)} s (${Math.round(count / seconds).toLocaleString('en')}/s; target < 30 s for 1,000,000)`,
    );
  };
  try {
    await timed('createBatch (one batch, streamed in chunks)', async () => {
      let sent = 0;
      const progress = function* () {
        for (const item of demoCommands(count)) {
          if (++sent % 100_000 === 0) log(`    ${sent.toLocaleString('en')} prepared`);
          yield item;
        }
      };
      await bus.createBatch({ name: 'load', commands: progress() });
    });
    for (const chunk of [1_000, 10_000]) {
      await timed(`sendMany chunks of ${chunk.toLocaleString('en')}`, async () => {
        let items: SendItem[] = [];
        for (const item of demoCommands(count)) {
          items.push(item);
          if (items.length === chunk) {
            await bus.sendMany(items);
            items = [];
          }
        }
        if (items.length) await bus.sendMany(items);
      });
    }
    const served = await serveConsole(bus);
    const probe = served && (await fetch(`${served.url}/api/load/estimate?count=1`));
    await probe?.body?.cancel();
    if (served && probe?.status === 404) {
      log('  POST /api/load: not on this branch (404)');
      await served.close();
    } else if (served) {
      try {
        await timed('POST /api/load (until its job is done)', async () => {
          const response = await fetch(`${served.url}/api/load`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ count, ...ODDS }),
          });
          const body = (await response.json()) as { job?: { id: string } };
          if (response.status !== 202 || !body.job)
            throw new Error(`POST /api/load: ${response.status} ${JSON.stringify(body)}`);
          for (;;) {
            const job = await getJson<{ state: string; done: number; error: string | null }>(
              served.url,
              `/api/jobs/${body.job.id}`,
            );
            if (job.state !== 'running') {
              if (job.state !== 'done') throw new Error(`load job ${job.state}: ${job.error}`);
              return;
            }
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
        });
      } finally {
        await served.close();
      }
    } else log('  no src/console on this branch: POST /api/load not measured');
  } finally {
    await dropSchema(backend).catch(() => {});
    await bus.close();
  }
  return runs;
}
