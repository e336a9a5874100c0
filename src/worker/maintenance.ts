import type { Logger } from 'pino';
import type { Backend } from '../backends/backend.js';
import { logFailure } from '../core/log-safely.js';

export interface MaintenanceOptions {
  recoverEveryMs: number;
  batchesEveryMs: number;
  pruneEveryMs: number;
  retentionMs: number;
  tidyEveryMs: number;
}

/**
 * Housekeeping every worker does, safe to run in many workers at once (each step is a
 * conditional write with SKIP LOCKED or a row lock): recover expired leases, finish
 * batches whose commands are all done, prune old history.
 */
export class Maintenance {
  private timers: NodeJS.Timeout[] = [];
  private readonly inFlight = new Set<Promise<unknown>>();
  private touched = new Set<string>();
  private batchTimer: NodeJS.Timeout | null = null;
  private batchCheck: Promise<unknown> | null = null;
  private stopped = false;

  constructor(
    private readonly backend: Backend,
    private readonly logger: Logger,
    private readonly options: MaintenanceOptions,
  ) {}

  start(): void {
    this.stopped = false;
    const every = (ms: number, what: string, fn: () => Promise<unknown>) => {
      let running = false;
      const timer = setInterval(() => {
        if (running) return;
        running = true;
        // from a timer, awaited by no one: a step that throws, even synchronously, is logged
        const task = Promise.resolve()
          .then(fn)
          .catch((error: unknown) =>
            logFailure(
              this.logger,
              'warn',
              {},
              error,
              `maintenance: ${what} failed; will try again`,
            ),
          )
          .finally(() => {
            running = false;
            this.inFlight.delete(task);
          });
        this.inFlight.add(task);
      }, ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(this.options.recoverEveryMs, 'lease recovery', () => this.recover());
    every(this.options.batchesEveryMs, 'batch completion', () => this.backend.finishBatches({}));
    every(this.options.pruneEveryMs, 'retention', () => this.prune());
    const tidy = this.backend.tidy?.bind(this.backend);
    if (tidy) every(this.options.tidyEveryMs, 'vacuum', tidy);
  }

  async recover(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.backend.recoverExpiredLeases({ limit: 1000 });
      total += n;
      if (n < 1000) break;
    }
    if (total > 0) this.logger.warn({ recovered: total }, 'recovered commands whose lease expired');
    return total;
  }

  /**
   * Finishes the named batches soon, debounced so a busy worker checks each batch about 20
   * times a second at most: the check is two index probes (see BatchStore), and the wait
   * is the delay of a batch's completion notification.
   */
  batchesTouched(ids: string[]): void {
    for (const id of ids) this.touched.add(id);
    // one check at a time: what is touched meanwhile waits for the next
    if (this.batchTimer || this.batchCheck || this.touched.size === 0) return;
    this.batchTimer = setTimeout(() => {
      this.batchTimer = null;
      const batchIds = [...this.touched];
      this.touched.clear();
      const check = Promise.resolve()
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
          this.batchCheck = null;
          this.inFlight.delete(check);
          if (!this.stopped) this.batchesTouched([]);
        });
      this.batchCheck = check;
      this.inFlight.add(check);
    }, 50);
    this.batchTimer.unref();
  }

  private async prune(): Promise<void> {
    let total = 0;
    for (;;) {
      const n = await this.backend.prune({ olderThanMs: this.options.retentionMs, limit: 5000 });
      total += n;
      if (n < 5000) break;
    }
    if (total > 0) this.logger.info({ pruned: total }, 'pruned commands past retention');
  }

  /** Stops the timers and waits for what is running, so nothing touches the store after. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    if (this.batchTimer) clearTimeout(this.batchTimer);
    this.batchTimer = null;
    await Promise.allSettled([...this.inFlight]);
    // What the last settles touched (the shutdown's own included) is finished now, not
    // left to another worker's sweep, which never comes if this worker was the last.
    const batchIds = [...this.touched];
    this.touched.clear();
    if (batchIds.length > 0)
      await this.backend
        .finishBatches({ batchIds })
        .catch((error: unknown) =>
          this.logger.warn({ err: error }, 'maintenance: batch completion failed at shutdown'),
        );
  }
}
