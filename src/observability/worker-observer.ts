import type { Counter, Gauge, Histogram } from 'prom-client';
import type { StoreOperation, WorkerEventMap, WorkerEventName } from '../core/events.js';
import type { Worker } from '../worker/worker.js';
import { limitReason, OUTCOMES, type MetricSet, type Outcome } from './metric-definitions.js';

/**
 * The labelled children of one (domain, type), made on its first event: prom-client
 * hashes a label set at every call, a child only once, so each event costs a map lookup
 * and the increments.
 */
interface TypeSeries {
  outcomes: Record<Outcome, Counter.Internal>;
  duration: Histogram.Internal<'domain' | 'type'>;
  inFlight: Gauge.Internal<'domain' | 'type'>;
  retries: Counter.Internal;
  troubleshooting: Counter.Internal;
}

/** The label children of every (domain, type) seen, shared by the observed workers. */
export class SeriesCache {
  private readonly byType = new Map<string, TypeSeries>();

  constructor(readonly metrics: MetricSet) {}

  of(domain: string, type: string): TypeSeries {
    const key = `${domain}\u0000${type}`;
    let series = this.byType.get(key);
    if (!series) {
      const m = this.metrics;
      const labels = { domain, type };
      series = {
        outcomes: Object.fromEntries(
          OUTCOMES.map((outcome) => [outcome, m.processed.labels({ ...labels, outcome })]),
        ) as Record<Outcome, Counter.Internal>,
        duration: m.duration.labels(labels),
        inFlight: m.inFlight.labels(labels),
        retries: m.retries.labels(labels),
        troubleshooting: m.troubleshooting.labels(labels),
      };
      this.byType.set(key, series);
    }
    return series;
  }
}

/** Whether an observed worker reaches its store: the operations failing now. */
export class WorkerHealth {
  private readonly down = new Map<Worker, Set<StoreOperation>>();

  watch(worker: Worker): void {
    this.down.set(worker, new Set());
  }

  forget(worker: Worker): void {
    this.down.delete(worker);
  }

  failing(worker: Worker, operation: StoreOperation, failing: boolean): void {
    const set = this.down.get(worker);
    if (failing) set?.add(operation);
    else set?.delete(operation);
  }

  /** 1 while every observed worker's claims and settles get through (or none is observed). */
  value(): number {
    for (const set of this.down.values()) if (set.size > 0) return 0;
    return 1;
  }
}

type Handlers = { [K in WorkerEventName]?: (event: WorkerEventMap[K]) => void };

/**
 * Counts what `worker` does from its typed events, and returns a function that stops.
 * An attempt is in flight from `started` to its outcome's event: an outcome with a
 * duration (a handler ran) or a lease lost under a running handler.
 */
export function observeWorker(
  worker: Worker,
  cache: SeriesCache,
  health: WorkerHealth,
): () => void {
  const m = cache.metrics;
  /** An attempt's outcome is written (or refused): counted, and its run timed. */
  const finished = (
    e: { domain: string; type: string; durationMs: number | null },
    outcome: Outcome,
  ) => {
    const series = cache.of(e.domain, e.type);
    series.outcomes[outcome].inc();
    if (e.durationMs !== null) {
      series.duration.observe(e.durationMs / 1000);
      series.inFlight.dec();
    }
    return series;
  };
  const handlers: Handlers = {
    started: (e) => cache.of(e.domain, e.type).inFlight.inc(),
    completed: (e) => void finished(e, 'completed'),
    retried: (e) => finished(e, 'retried').retries.inc(),
    troubleshooting: (e) => finished(e, 'troubleshooting').troubleshooting.inc(),
    released: (e) => void finished(e, 'released'),
    stale: (e) => {
      finished(e, 'stale');
      m.stale.inc({ domain: e.domain, type: e.type, outcome: e.outcome });
    },
    leaseLost: (e) => {
      if (!e.running) return;
      const series = cache.of(e.domain, e.type);
      series.outcomes.lease_lost.inc();
      series.inFlight.dec();
    },
    rateLimited: (e) =>
      m.rateLimited.inc({ domain: e.domain, type: e.type, reason: limitReason(e.reason) }),
    claimed: (e) => m.batchSize.observe({ domain: e.domain }, e.count),
    leasesRecovered: (e) => m.leasesRecovered.inc(e.count),
    storeDown: (e) => health.failing(worker, e.operation, true),
    storeUp: (e) => health.failing(worker, e.operation, false),
  };
  health.watch(worker);
  const names = Object.keys(handlers) as WorkerEventName[];
  for (const name of names) worker.events.on(name, handlers[name] as (event: unknown) => void);
  return () => {
    for (const name of names) worker.events.off(name, handlers[name] as (event: unknown) => void);
    health.forget(worker);
  };
}
