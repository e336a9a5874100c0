import type { Logger } from 'pino';
import type { Backend, SettleResult, Settlement } from '../backends/backend.js';
import { sleep, storeRetryDelay } from './backoff.js';
import { logFailure } from '../core/log-safely.js';
import type { StoreHealth } from './event-source.js';

/**
 * The one completion path: every outcome of an attempt is queued here and written in
 * batches, one statement per flush. Outcomes that arrive while a flush is on its way go
 * in the next one, so under load a flush carries hundreds of rows and at rest it goes out
 * on the next turn of the event loop. When the store is away the queue is kept and
 * retried; if a lease expires meanwhile the store refuses the stale outcome and the
 * command runs again (at-least-once).
 */
export class Completer {
  private queue: Settlement[] = [];
  /** Flushes on their way, and the outcomes they carry. */
  private inFlight = 0;
  private writing = 0;
  private scheduled = false;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private drained: (() => void)[] = [];
  /** Waiting for the backlog to fall below `below` (the claim loop's hold, see whenBelow). */
  private shrinking: { below: number; resolve: () => void }[] = [];
  /** Told whether each write reaches the store (the worker's storeDown and storeUp events). */
  health: StoreHealth | null = null;

  constructor(
    private readonly backend: Backend,
    private readonly workerId: string,
    private readonly logger: Logger,
    private readonly onSettled: (result: SettleResult, settlements: Settlement[]) => void,
    /** Called whenever the last queued outcome has been written. */
    private readonly onEmpty: () => void = () => {},
    private readonly maxBatch = 1000,
    /** Two flushes overlap: one is written while the next one fills. */
    private readonly maxInFlight = 2,
  ) {}

  /** Outcomes queued or being written. */
  get size(): number {
    return this.queue.length + this.writing;
  }

  /** Resolves once fewer than `below` outcomes are queued or being written. */
  whenBelow(below: number): Promise<void> {
    if (this.size < below) return Promise.resolve();
    return new Promise((resolve) => this.shrinking.push({ below, resolve }));
  }

  add(settlement: Settlement): void {
    this.queue.push(settlement);
    if (this.scheduled || this.retryTimer) return;
    // Wait one turn of the event loop so outcomes that finish together go together.
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0 && !this.retryTimer) {
      const group = this.queue.splice(0, this.maxBatch);
      this.inFlight++;
      this.writing += group.length;
      void this.flush(group).then(() => {
        this.inFlight--;
        this.pump();
        if (this.shrinking.length > 0) {
          const size = this.size;
          const ready = this.shrinking.filter((w) => size < w.below);
          this.shrinking = this.shrinking.filter((w) => size >= w.below);
          for (const w of ready) w.resolve();
        }
        if (this.size === 0) {
          for (const resolve of this.drained.splice(0)) resolve();
          try {
            this.onEmpty();
          } catch (error) {
            logFailure(this.logger, 'error', {}, error, 'failed after writing outcomes');
          }
        }
      });
    }
  }

  /** Writes one group; never rejects (pump runs it without waiting). */
  private async flush(group: Settlement[]): Promise<void> {
    let result: SettleResult;
    try {
      result = await this.backend.settle({ workerId: this.workerId, settlements: group });
    } catch (error) {
      this.writing -= group.length;
      this.queue.unshift(...group);
      this.failures++;
      this.health?.failed(error);
      if (!this.retryTimer) {
        this.retryTimer = setTimeout(() => {
          this.retryTimer = null;
          this.pump();
        }, storeRetryDelay(this.failures));
      }
      logFailure(
        this.logger,
        'error',
        { pending: this.queue.length },
        error,
        'cannot write outcomes to the store; retrying',
      );
      return;
    }
    this.writing -= group.length;
    this.failures = 0;
    this.health?.ok();
    // What follows a written group must not put it back in the queue: it is written.
    try {
      if (result.stale.length > 0) {
        this.logger.warn(
          { stale: result.stale.length },
          'outcomes refused: the lease had expired and another attempt owns the command',
        );
      }
      this.onSettled(result, group);
    } catch (error) {
      logFailure(this.logger, 'error', {}, error, 'failed after writing outcomes');
    }
  }

  /** Writes everything queued, trying until `deadline`; resolves to what is left unwritten. */
  async drain(deadline: number): Promise<number> {
    while (this.size > 0 && Date.now() < deadline) {
      this.pump();
      await Promise.race([
        new Promise<void>((resolve) => this.drained.push(resolve)),
        sleep(Math.min(100, Math.max(1, deadline - Date.now()))),
      ]);
    }
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    return this.queue.length;
  }
}
