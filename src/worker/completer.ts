import type { Logger } from 'pino';
import type { Backend, SettleResult, Settlement } from '../backends/backend.js';
import { sleep, storeRetryDelay } from './backoff.js';

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
  private flushing: Promise<void> | null = null;
  private scheduled = false;
  private failures = 0;
  private readonly stopSignal = new AbortController();

  constructor(
    private readonly backend: Backend,
    private readonly workerId: string,
    private readonly logger: Logger,
    private readonly onSettled: (result: SettleResult, settlements: Settlement[]) => void,
    private readonly maxBatch = 1000,
  ) {}

  get size(): number {
    return this.queue.length;
  }

  add(settlement: Settlement): void {
    this.queue.push(settlement);
    if (this.flushing || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.kick();
    });
  }

  private kick(): void {
    if (!this.flushing && this.queue.length > 0) {
      this.flushing = this.run().finally(() => {
        this.flushing = null;
        if (this.queue.length > 0) this.kick();
      });
    }
  }

  private async run(): Promise<void> {
    while (this.queue.length > 0 && !this.stopSignal.signal.aborted) {
      const group = this.queue.splice(0, this.maxBatch);
      try {
        const result = await this.backend.settle({ workerId: this.workerId, settlements: group });
        this.failures = 0;
        if (result.stale.length > 0) {
          this.logger.warn(
            { stale: result.stale.length },
            'outcomes refused: the lease had expired and another attempt owns the command',
          );
        }
        this.onSettled(result, group);
      } catch (error) {
        this.queue.unshift(...group);
        this.failures++;
        this.logger.error(
          { err: error, pending: this.queue.length },
          'cannot write outcomes to the store; retrying',
        );
        await sleep(storeRetryDelay(this.failures), this.stopSignal.signal);
      }
    }
  }

  /** Writes everything queued, trying until `deadline`; resolves to what is left unwritten. */
  async drain(deadline: number): Promise<number> {
    while (this.queue.length > 0 || this.flushing) {
      if (Date.now() > deadline) {
        this.stopSignal.abort();
        break;
      }
      this.kick();
      await Promise.race([this.flushing, sleep(Math.max(1, deadline - Date.now()))]);
    }
    return this.queue.length;
  }
}
