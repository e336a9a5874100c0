import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Backend } from '../backends/backend.js';
import type { Middleware } from '../core/context.js';
import { ConfigurationError } from '../core/errors.js';
import type { HandlerRegistry } from '../core/registry.js';
import type { SendFn } from './execute.js';
import type { WorkerRegistryOptions } from './registry-refresh.js';
import type { MaintenanceService } from './services.js';

export interface WorkerOptions {
  /** Names this worker in leases and the audit trail. Default host-pid-random. */
  workerId?: string | undefined;
  /** Handlers running at once in this worker. Default 10. */
  concurrency?: number | undefined;
  /** Only these domains (default: every domain with a registered handler). */
  domains?: string[] | undefined;
  /** Only these types (default: every type of the claimed domains). */
  types?: string[] | undefined;
  /** How long a claim is held without renewal. Renewed every third of it. Default 30 s. */
  leaseMs?: number | undefined;
  /** How often an idle worker looks for work without a wake-up. Default 1 s. */
  pollIntervalMs?: number | undefined;
  /** Most commands taken by one claim. Default: the store's (500 on SQL, 100 on Redis). */
  claimBatchSize?: number | undefined;
  /**
   * Claimed but not yet started commands kept ready, beyond concurrency. Default: adaptive,
   * about 25 ms of this worker's recent throughput, at least `concurrency`, at most 1,000.
   */
  prefetch?: number | undefined;
  /** How long shutdown waits for running handlers. Default 10 s. */
  shutdownTimeoutMs?: number | undefined;
  /**
   * The built-in housekeeping services in this worker: lease recovery, batch completion,
   * retention, VACUUM. Default true. `services` run either way.
   */
  maintenance?: boolean | undefined;
  /**
   * Periodic jobs of the application's own, run beside the built-in ones: each named,
   * every `everyMs` plus up to `jitterMs`, in every worker (`scope: 'worker'`) or in one
   * worker of the store at a time (`scope: 'store'`, held by a lease in the store).
   */
  services?: MaintenanceService[] | undefined;
  /**
   * Outcomes waiting to be written to the store above which the worker stops claiming,
   * until half of them are written: a slow or unreachable store then holds the work back
   * in the store instead of piling finished outcomes up in memory. Default: 4,000, or four
   * claims or four times concurrency if more.
   */
  maxUnwrittenOutcomes?: number | undefined;
  /** Completed and cancelled commands are pruned after this long. Default 7 days. */
  retentionMs?: number | undefined;
  /**
   * The worker's record in the store's worker registry (`bus.workers()`, `dispatchbox
   * workers`): how often it is refreshed and when a silent worker is stale or forgotten.
   * false: the worker does not record itself. Default: refreshed every 5 s.
   */
  registration?: WorkerRegistryOptions | false | undefined;
  /**
   * Throughput samples: the worker counts its attempts' outcomes per domain in memory and
   * adds them to the store's 10-second buckets every 10 s and when it stops (`bus.throughput`,
   * the console's charts). false: it records none. Default true.
   */
  samples?: boolean | undefined;
  /** Injected for tests of jitter. */
  random?: (() => number) | undefined;
}

export interface WorkerDeps {
  backend: Backend;
  registry: HandlerRegistry;
  middleware: readonly Middleware[];
  logger: Logger;
  send: SendFn;
  /** A consumer span per attempt when an OpenTelemetry SDK is installed. Default true. */
  tracing?: boolean | undefined;
}

export interface WorkerStats {
  started: number;
  completed: number;
  retried: number;
  troubleshooting: number;
  released: number;
  stale: number;
  /** Sent back to wait by a rate limit or a global concurrency cap (no attempt spent). */
  limited: number;
}

/** A new worker's counters, all zero. */
export function noStats(): WorkerStats {
  return {
    started: 0,
    completed: 0,
    retried: 0,
    troubleshooting: 0,
    released: 0,
    stale: 0,
    limited: 0,
  };
}

/**
 * The completer writes up to 1,000 outcomes per statement, two statements at a time, and
 * under a steady full load about as many wait for them: a drain of no-op handlers on
 * PostgreSQL peaks at 2,300-2,800 unwritten (1,100-2,300 at 30,000 commands), PGlite at
 * about 570, Redis at 200. More than this is a store falling behind.
 */
const UNWRITTEN_OUTCOMES_FLOOR = 4000;

/** The options with their defaults, checked once at construction. */
export function resolveWorkerOptions(o: WorkerOptions, defaultClaimBatchSize: number) {
  const concurrency = positive(o.concurrency ?? 10, 'concurrency');
  const claimBatchSize = positive(o.claimBatchSize ?? defaultClaimBatchSize, 'claimBatchSize');
  return {
    workerId: o.workerId ?? `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`,
    concurrency,
    claimBatchSize,
    /** null: adaptive (see AdaptivePrefetch). */
    prefetch: o.prefetch === undefined ? null : nonNegative(o.prefetch, 'prefetch'),
    leaseMs: positive(o.leaseMs ?? 30_000, 'leaseMs'),
    pollIntervalMs: positive(o.pollIntervalMs ?? 1000, 'pollIntervalMs'),
    shutdownTimeoutMs: nonNegative(o.shutdownTimeoutMs ?? 10_000, 'shutdownTimeoutMs'),
    retentionMs: positive(o.retentionMs ?? 7 * 24 * 3600_000, 'retentionMs'),
    maxUnwrittenOutcomes: positive(
      o.maxUnwrittenOutcomes ??
        Math.max(UNWRITTEN_OUTCOMES_FLOOR, 4 * claimBatchSize, 4 * concurrency),
      'maxUnwrittenOutcomes',
    ),
  };
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new ConfigurationError(
      `worker option ${name} must be a positive number; got ${String(value)}`,
    );
  }
  return value;
}

function nonNegative(value: number, name: string): number {
  if (!Number.isFinite(value) || value < 0) {
    throw new ConfigurationError(
      `worker option ${name} must be zero or more; got ${String(value)}`,
    );
  }
  return value;
}
