import type { StoreOperation, WorkerEventMap, WorkerEventName } from '../core/events.js';
import type { Worker } from '../worker/worker.js';
import { DurationCounts } from './counted-histogram.js';
import {
  limitReason,
  OUTCOMES,
  PROCESSING_BUCKETS,
  type MetricSet,
  type Outcome,
  type TypeCounts,
} from './metric-definitions.js';

/** The counts of every (domain, type) the observed workers told of. */
export class TypeCountsCache {
  private readonly byType = new Map<string, TypeCounts>();

  of(domain: string, type: string): TypeCounts {
    const key = `${domain}\u0000${type}`;
    let counts = this.byType.get(key);
    if (!counts) {
      counts = {
        domain,
        type,
        outcomes: Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>,
        inFlight: 0,
        retries: 0,
        troubleshooting: 0,
        duration: new DurationCounts(PROCESSING_BUCKETS),
      };
      this.byType.set(key, counts);
    }
    return counts;
  }

  all(): Iterable<TypeCounts> {
    return this.byType.values();
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
  m: MetricSet,
  cache: TypeCountsCache,
  health: WorkerHealth,
): () => void {
  /** An attempt's outcome is written (or refused): counted, and its run timed. */
  const finished = (
    e: { domain: string; type: string; durationMs: number | null },
    outcome: Outcome,
  ) => {
    const counts = cache.of(e.domain, e.type);
    counts.outcomes[outcome]++;
    if (e.durationMs !== null) {
      counts.duration.observe(e.durationMs / 1000);
      counts.inFlight--;
    }
    return counts;
  };
  const handlers: Handlers = {
    started: (e) => void cache.of(e.domain, e.type).inFlight++,
    completed: (e) => void finished(e, 'completed'),
    retried: (e) => void finished(e, 'retried').retries++,
    troubleshooting: (e) => void finished(e, 'troubleshooting').troubleshooting++,
    released: (e) => void finished(e, 'released'),
    stale: (e) => {
      finished(e, 'stale');
      m.stale.inc({ domain: e.domain, type: e.type, outcome: e.outcome });
    },
    leaseLost: (e) => {
      if (!e.running) return;
      const counts = cache.of(e.domain, e.type);
      counts.outcomes.lease_lost++;
      counts.inFlight--;
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
