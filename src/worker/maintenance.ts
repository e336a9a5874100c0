import type { Logger } from 'pino';
import type { Backend } from '../backends/backend.js';
import { logFailure } from '../core/log-safely.js';
import type { MaintenanceService } from './services.js';

/** What the built-in services depend on: the worker's lease and the store's retention. */
export interface MaintenanceOptions {
  leaseMs: number;
  retentionMs: number;
  /** Told how many commands a run of lease-recovery gave back, when it gave back any. */
  onRecovered?: ((count: number) => void) | undefined;
}

/** How often each built-in service runs, given the worker's lease. */
function intervals(leaseMs: number) {
  return {
    // well within a lease, so a crashed worker's commands are back soon after it expires
    recoverEveryMs: Math.min(10_000, Math.max(250, leaseMs / 2)),
    batchesEveryMs: 5000,
    pruneEveryMs: 60_000,
    // every second: a fold of the counts holds the embedded store's one connection, so
    // small folds often (5–11 ms for 1,000 rows) rather than 20–40 ms every 5 s, which
    // showed as send-to-start latency p99 of 16–63 ms instead of 5–9
    tidyEveryMs: 1000,
  };
}

/** Rows per statement of the looping jobs: one statement stays short, a backlog takes several. */
const RECOVER_LIMIT = 1000;
const PRUNE_LIMIT = 5000;

/**
 * The store's housekeeping, as services every worker runs (services.ts). Which are
 * store-wide is decided by what a run costs against what taking the lease costs, and by
 * how soon it must happen. The lease is a concurrency slot: on PostgreSQL a transaction
 * that commits a write, 29 ms on a loaded test machine where a recovery that finds
 * nothing took 3 ms and a sweep of no open batch 9 ms (PGlite: 10, 0.4 and 11 ms).
 *
 * - lease-recovery, 'worker': one statement through an index, far cheaper than the lease,
 *   and safe in parallel (SKIP LOCKED; one script per domain on Redis). It must come soon
 *   after a worker dies, and the dead worker may be the holder. On Redis it also moves
 *   due delayed commands and dead consumers' tickets, which every worker's claims wait on.
 * - batch-sweep, 'store': a fallback for batches whose last command settled in a worker
 *   that died before finishing them (the settling worker finishes them at once, see
 *   BatchFinisher). It reads every open batch, so its cost grows with them where the
 *   lease's does not, and two sweeps lock the same batch rows.
 * - prune, 'store': deletes history past retention in chunks; two workers would delete
 *   the same rows and wait on each other's locks.
 * - tidy, 'worker': VACUUM once this process's own settles left enough dead rows (the
 *   count is the backend's, shared by the workers of one process); VACUUM (SKIP_LOCKED)
 *   already lets one run at a time, and a store-wide holder would count only its own
 *   dead rows, not those of the other processes.
 */
export function builtinServices(
  backend: Backend,
  logger: Logger,
  options: MaintenanceOptions,
): MaintenanceService[] {
  const o = { ...intervals(options.leaseMs), retentionMs: options.retentionMs };
  // a tenth of the period: enough to spread workers started together
  const jitter = (everyMs: number) => Math.round(everyMs / 10);
  const services: MaintenanceService[] = [
    {
      name: 'lease-recovery',
      everyMs: o.recoverEveryMs,
      jitterMs: jitter(o.recoverEveryMs),
      scope: 'worker',
      run: async (signal) => {
        const recovered = await recover(backend, logger, signal);
        if (recovered > 0) options.onRecovered?.(recovered);
        return recovered;
      },
    },
    {
      name: 'batch-sweep',
      everyMs: o.batchesEveryMs,
      jitterMs: jitter(o.batchesEveryMs),
      scope: 'store',
      run: () => backend.finishBatches({}),
    },
    {
      name: 'prune',
      everyMs: o.pruneEveryMs,
      jitterMs: jitter(o.pruneEveryMs),
      scope: 'store',
      run: (signal) => prune(backend, logger, o.retentionMs, signal),
    },
  ];
  const tidy = backend.tidy?.bind(backend);
  if (tidy)
    services.push({
      name: 'tidy',
      everyMs: o.tidyEveryMs,
      jitterMs: jitter(o.tidyEveryMs),
      scope: 'worker',
      run: tidy,
    });
  return services;
}

async function recover(backend: Backend, logger: Logger, signal: AbortSignal): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await backend.recoverExpiredLeases({ limit: RECOVER_LIMIT });
    total += n;
    if (n < RECOVER_LIMIT || signal.aborted) break;
  }
  if (total > 0) logger.warn({ recovered: total }, 'recovered commands whose lease expired');
  return total;
}

async function prune(
  backend: Backend,
  logger: Logger,
  retentionMs: number,
  signal: AbortSignal,
): Promise<void> {
  let total = 0;
  for (;;) {
    const n = await backend.prune({ olderThanMs: retentionMs, limit: PRUNE_LIMIT });
    total += n;
    if (n < PRUNE_LIMIT || signal.aborted) break;
  }
  if (total > 0) logger.info({ pruned: total }, 'pruned commands past retention');
}

/**
 * Finishes the batches a worker's settles touched, soon after, instead of waiting for the
 * batch-sweep: a batch's completion command goes out within ~50 ms of its last outcome.
 */
export class BatchFinisher {
  private touched = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private check: Promise<unknown> | null = null;
  private stopped = false;

  constructor(
    private readonly backend: Backend,
    private readonly logger: Logger,
  ) {}

  /**
   * Finishes the named batches soon, debounced so a busy worker checks each batch about 20
   * times a second at most: the check is two index probes (see BatchStore), and the wait
   * is the delay of a batch's completion notification.
   */
  batchesTouched(ids: string[]): void {
    for (const id of ids) this.touched.add(id);
    // one check at a time: what is touched meanwhile waits for the next
    if (this.timer || this.check || this.touched.size === 0) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      const batchIds = [...this.touched];
      this.touched.clear();
      this.check = Promise.resolve()
        .then(() => this.backend.finishBatches({ batchIds }))
        .catch((error: unknown) =>
          logFailure(
            this.logger,
            'warn',
            {},
            error,
            'maintenance: batch completion failed; will try again',
          ),
        )
        .finally(() => {
          this.check = null;
          if (!this.stopped) this.batchesTouched([]);
        });
    }, 50);
    this.timer.unref();
  }

  /**
   * Waits for the check under way, then finishes what the last settles touched (the
   * shutdown's own included) now, not left to another worker's sweep, which never comes
   * if this worker was the last.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.check;
    const batchIds = [...this.touched];
    this.touched.clear();
    if (batchIds.length > 0)
      await Promise.resolve()
        .then(() => this.backend.finishBatches({ batchIds }))
        .catch((error: unknown) =>
          logFailure(
            this.logger,
            'warn',
            {},
            error,
            'maintenance: batch completion failed at shutdown',
          ),
        );
  }
}
