import { Counter, Gauge, type Registry } from 'prom-client';
import type { CommandCount, OldestPending } from '../backends/backend.js';
import type { CommandBus } from '../bus/bus.js';

/**
 * How long a scrape waits for the store: under Prometheus's default scrape timeout (10 s),
 * so a slow store costs the scrape its queue gauges, not the whole scrape.
 */
const READ_TIMEOUT_MS = 5000;

interface QueueRead {
  counts: CommandCount[];
  oldest: OldestPending[];
  /** When the read was answered (local clock), for the lag. */
  at: number;
}

/**
 * The queue gauges, read from the store at each scrape: commands per domain, type and
 * state from the store's counts, and the age of each domain's oldest due pending command.
 * Both are index reads whose cost does not grow with the queue or the history (see
 * `bus.counts` and `bus.oldestPending`). The two gauges share one read per scrape. When
 * the store does not answer, the gauges keep their last values and `scrapeErrors` counts
 * it: a scrape never fails for it.
 */
export function defineQueueGauges(registry: Registry, bus: CommandBus, enabled: boolean): void {
  const registers = [registry];
  // registered either way, so a dashboard's queries find it
  const scrapeErrors = new Counter({
    name: 'dispatchbox_scrape_errors_total',
    help: 'Scrapes whose read of the queue gauges from the store failed; the gauges kept their last values.',
    registers,
    // waits for this scrape's read, so that a failure counts in the scrape it failed
    collect: enabled ? () => read().then(() => undefined) : undefined,
  });
  if (!enabled) return;
  let reading: Promise<QueueRead | null> | null = null;
  // one read for the scrape that asks both gauges at once (prom-client collects in parallel)
  const read = () => {
    reading ??= readQueues(bus).then(
      (result) => result,
      () => {
        scrapeErrors.inc();
        return null;
      },
    );
    const current = reading;
    void current.finally(() => {
      if (reading === current) reading = null;
    });
    return current;
  };

  new Gauge({
    name: 'dispatchbox_commands',
    help: "Commands per domain, type and state now, from the store's counts (read at each scrape).",
    labelNames: ['domain', 'type', 'state'] as const,
    registers,
    async collect() {
      const result = await read();
      if (!result) return;
      // counts of zero are left out by the store: a state emptied since the last scrape
      // must drop to nothing, not keep its old value
      this.reset();
      for (const c of result.counts)
        this.set({ domain: c.domain, type: c.type, state: c.state }, c.count);
    },
  });

  new Gauge({
    name: 'dispatchbox_oldest_pending_age_seconds',
    help: 'Per domain, how long its oldest due pending command has waited for a worker (0 when none waits); read at each scrape.',
    labelNames: ['domain'] as const,
    registers,
    async collect() {
      const result = await read();
      if (!result) return;
      this.reset();
      // every domain with commands gets a value, so an alert on it sees 0, not nothing
      for (const c of result.counts) this.set({ domain: c.domain }, 0);
      for (const o of result.oldest)
        this.set({ domain: o.domain }, Math.max(0, (result.at - o.runAt.getTime()) / 1000));
    },
  });
}

async function readQueues(bus: CommandBus): Promise<QueueRead> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`the store did not answer in ${READ_TIMEOUT_MS} ms`)),
      READ_TIMEOUT_MS,
    );
  });
  try {
    const [counts, oldest] = await Promise.race([
      Promise.all([bus.counts(), bus.oldestPending()]),
      timeout,
    ]);
    return { counts, oldest, at: Date.now() };
  } finally {
    clearTimeout(timer);
  }
}
