/**
 * The worker's side of the worker registry (backends/worker-registry.ts): it records
 * itself in the store when it starts, before it claims anything, refreshes the record on
 * a timer with its counters, and marks itself stopped on a graceful stop. A crashed
 * worker stops refreshing, and readers see it turn stale and then disappear.
 *
 * The refresh is one of the worker's maintenance services (services.ts).
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { WorkerInfo, WorkerRegistryStore } from '../backends/worker-registry.js';
import { ConfigurationError } from '../core/errors.js';
import { logFailure } from '../core/log-safely.js';
import type { MaintenanceService } from './services.js';

export interface WorkerRegistryOptions {
  /** How often the worker refreshes its record in the store. Default 5 s. */
  refreshMs?: number | undefined;
  /** Readers list the worker as stale after this long without a refresh. Default 3 × refreshMs. */
  staleAfterMs?: number | undefined;
  /** The store forgets the worker this long after its last refresh or its stop. Default 1 hour. */
  forgetAfterMs?: number | undefined;
}

/** What the worker itself knows of itself, read at every refresh. */
export type WorkerSelf = Pick<WorkerInfo, 'id' | 'domains' | 'types' | 'concurrency' | 'counters'>;

interface ResolvedOptions {
  refreshMs: number;
  staleAfterMs: number;
  forgetAfterMs: number;
}

let version: string | undefined;

/** The installed package's version: package.json sits two levels above src/worker and dist/worker. */
function packageVersion(): string {
  if (version === undefined) {
    try {
      const url = new URL('../../package.json', import.meta.url);
      version = (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
    } catch {
      version = 'unknown'; // bundled without its package.json: the registry still works
    }
  }
  return version;
}

function resolve(options: WorkerRegistryOptions): ResolvedOptions {
  const check = (name: string, value: number, min: number) => {
    if (!Number.isInteger(value) || value < min)
      throw new ConfigurationError(
        `worker option registration.${name} must be a whole number of ms, at least ${min}; got ${String(value)}`,
      );
    return value;
  };
  const refreshMs = check('refreshMs', options.refreshMs ?? 5000, 10);
  const staleAfterMs = check('staleAfterMs', options.staleAfterMs ?? 3 * refreshMs, refreshMs + 1);
  const forgetAfterMs = check(
    'forgetAfterMs',
    options.forgetAfterMs ?? Math.max(3600_000, 2 * staleAfterMs),
    staleAfterMs + 1,
  );
  return { refreshMs, staleAfterMs, forgetAfterMs };
}

/** The refresh as a service: each run writes the worker's record with its counters now. */
export function workerRegistryService(
  store: WorkerRegistryStore,
  options: WorkerRegistryOptions,
  self: () => WorkerSelf,
): MaintenanceService & { options: ResolvedOptions } {
  const resolved = resolve(options);
  const startedAt = new Date();
  const host = hostname();
  return {
    name: 'worker-registry',
    everyMs: resolved.refreshMs,
    // a tenth of the interval: workers started together spread their refreshes
    jitterMs: Math.floor(resolved.refreshMs / 10),
    scope: 'worker',
    options: resolved,
    run: () =>
      store.upsertWorker({
        info: { ...self(), host, pid: process.pid, startedAt, version: packageVersion() },
        staleAfterMs: resolved.staleAfterMs,
        forgetAfterMs: resolved.forgetAfterMs,
      }),
  };
}

/**
 * The registry for one worker: the first record before it claims anything, the refresh as
 * one of its maintenance services (`service`), and the stopped mark. A failure is logged
 * and tried again at the next refresh; it never stops the worker.
 */
export class WorkerRegistration {
  readonly service: MaintenanceService & { options: ResolvedOptions };

  constructor(
    private readonly store: WorkerRegistryStore,
    private readonly logger: Logger,
    options: WorkerRegistryOptions,
    self: () => WorkerSelf,
  ) {
    // bad options are refused when the worker is made, not when it starts
    this.service = workerRegistryService(store, options, self);
  }

  /** Writes the first record; the worker's services refresh it from then on. */
  async start(): Promise<void> {
    await Promise.resolve()
      .then(() => this.service.run(new AbortController().signal))
      .catch((error: unknown) =>
        logFailure(
          this.logger,
          'warn',
          {},
          error,
          'worker registry: recording this worker failed; will try again',
        ),
      );
  }

  /** Marks the worker stopped with its final counters (after its services have stopped). */
  async stop(id: string, counters: Record<string, number>): Promise<void> {
    const { forgetAfterMs } = this.service.options;
    await Promise.resolve()
      .then(() => this.store.stopWorker({ id, counters, forgetAfterMs }))
      .catch((error: unknown) =>
        logFailure(this.logger, 'warn', {}, error, 'worker registry: marking stopped failed'),
      );
  }
}
