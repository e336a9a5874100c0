import type * as ObservabilityEntry from '../../src/observability/index.js';
import type { CommandBus, Worker } from '../../src/index.js';

/**
 * What the observability variants of our systems turn on or off, beside the defaults
 * (tracing through the OpenTelemetry API with no SDK installed, no metrics):
 * - 'observed': Prometheus metrics of the bus and the worker (createMetrics, queue gauges
 *   included), scraped every 15 s as Prometheus would, and tracing on;
 * - 'dark': tracing off (`tracing: false`) and no metrics.
 * The pair measures what metrics and tracing cost a drain.
 */
export type Observability = 'default' | 'observed' | 'dark';

const SCRAPE_EVERY_MS = 15_000;

/** The observability entry beside the entry the bench measures (src/ or a snapshot of it). */
async function loadObservability(): Promise<typeof ObservabilityEntry> {
  const entry = process.env.BENCH_DISPATCHBOX_ENTRY ?? '../../src/index.js';
  return (await import(
    entry.replace(/index\.(js|ts)$/, 'observability/index.$1')
  )) as typeof ObservabilityEntry;
}

/** Counts what `worker` does and scrapes every 15 s; resolves to the function that stops it. */
export async function observe(bus: CommandBus, worker: Worker): Promise<() => void> {
  const { createMetrics } = await loadObservability();
  const metrics = createMetrics(bus);
  metrics.observeWorker(worker);
  const timer = setInterval(() => {
    metrics.text().catch(() => {});
  }, SCRAPE_EVERY_MS);
  return () => {
    clearInterval(timer);
    metrics.close();
  };
}
