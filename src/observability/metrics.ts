import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { CommandBus } from '../bus/bus.js';
import { ConfigurationError } from '../core/errors.js';
import type { BusEventMap } from '../core/events.js';
import type { Worker } from '../worker/worker.js';
import { defineMetrics, type SentCounts } from './metric-definitions.js';
import { defineQueueGauges } from './queue-gauges.js';
import { observeWorker, TypeCountsCache, WorkerHealth } from './worker-observer.js';

export interface MetricsOptions {
  /** Where the metrics are registered; default a new Registry of their own. */
  registry?: Registry | undefined;
  /** Also collect Node's process metrics (prom-client collectDefaultMetrics). Default false. */
  processMetrics?: boolean | undefined;
  /** Read the queue gauges from the store's cheap counts at each scrape. Default true. */
  queueGauges?: boolean | undefined;
}

export interface DispatchboxMetrics {
  readonly registry: Registry;
  /** Counts what this worker does from its typed events; returns a function that stops counting. */
  observeWorker(worker: Worker): () => void;
  /** The Prometheus text exposition of every metric (reads the queue gauges from the store first). */
  text(): Promise<string>;
  /** The content type of text(): registry.contentType. */
  readonly contentType: string;
  /** Stops listening to the bus and every observed worker. */
  close(): void;
}

/**
 * Prometheus metrics of a bus and the workers given to `observeWorker`, all named
 * `dispatchbox_…` (docs/metrics.md lists them). Counters and histograms come from the
 * typed events (a handler only increments); the queue gauges and the pool's connections
 * are read when scraped. Nothing is counted for an event nobody listens to, so a bus
 * without metrics pays nothing for them.
 */
export function createMetrics(bus: CommandBus, options: MetricsOptions = {}): DispatchboxMetrics {
  const registry = options.registry ?? new Registry();
  if (registry.getSingleMetric('dispatchbox_commands_processed_total')) {
    throw new ConfigurationError(
      "this registry already holds Dispatchbox's metrics: call createMetrics once per registry (observeWorker adds each worker), or give each its own registry",
    );
  }
  const cache = new TypeCountsCache();
  const sentCounts = new Map<string, SentCounts>();
  const metrics = defineMetrics(registry, {
    types: () => cache.all(),
    sent: () => sentCounts.values(),
  });
  const health = new WorkerHealth();

  new Gauge({
    name: 'dispatchbox_worker_health',
    help: "1 while every observed worker's claims and outcome writes reach the store, 0 while one's fail.",
    registers: [registry],
    collect() {
      this.set(health.value());
    },
  });
  new Gauge({
    name: 'dispatchbox_db_connection_pool_size',
    help: "The store's connection pool by state: total, idle, and waiting (callers waiting for a connection). PostgreSQL only.",
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      const stats = bus.backend.poolStats?.();
      if (!stats) return;
      this.set({ state: 'total' }, stats.total);
      this.set({ state: 'idle' }, stats.idle);
      this.set({ state: 'waiting' }, stats.waiting);
    },
  });
  defineQueueGauges(registry, bus, options.queueGauges !== false);
  if (options.processMetrics === true) collectDefaultMetrics({ register: registry });

  const onSent = (e: BusEventMap['sent']) => {
    for (const c of e.commands) {
      const key = `${c.domain}\u0000${c.type}`;
      const counts = sentCounts.get(key);
      if (counts) counts.sent++;
      else sentCounts.set(key, { domain: c.domain, type: c.type, sent: 1 });
    }
    // in an application's transaction the reply is not yet the commit: not an acknowledgement
    if (!e.inTransaction) metrics.sendDuration.observe(e.durationMs / 1000);
  };
  bus.events.on('sent', onSent);

  const stops = new Set<() => void>();
  return {
    registry,
    contentType: registry.contentType,
    observeWorker(worker) {
      const stop = observeWorker(worker, metrics, cache, health);
      const once = () => {
        if (stops.delete(once)) stop();
      };
      stops.add(once);
      return once;
    },
    text: () => registry.metrics(),
    close() {
      bus.events.off('sent', onSent);
      for (const stop of [...stops]) stop();
    },
  };
}
