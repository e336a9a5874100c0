/**
 * The worker's throughput samples (backends/roles/samples.ts): how many of its attempts
 * ended, and how, per domain and 10-second bucket. Counting is on the hot path, so an
 * outcome costs a Map lookup and an increment: no clock read, no allocation once the
 * domain has been seen in the bucket. A timer at each bucket boundary closes the bucket,
 * and a per-worker maintenance service writes what was counted since its last write;
 * a write that fails is kept and added to the next one, never lost or written twice.
 */
import type { Logger } from 'pino';
import {
  SAMPLE_BUCKET_MS,
  type ThroughputSample,
  type ThroughputSampleStore,
} from '../backends/roles/samples.js';
import { logFailure } from '../core/log-safely.js';
import type { MaintenanceService } from './services.js';

/** One domain's outcomes in the open bucket; failed is retried + troubleshooting. */
interface Tally {
  completed: number;
  retried: number;
  troubleshooting: number;
}

/** The start of the bucket that holds `ms`. */
export function bucketOf(ms: number): number {
  return ms - (ms % SAMPLE_BUCKET_MS);
}

export class ThroughputSampler {
  /** The open bucket's counts, per domain. */
  private open = new Map<string, Tally>();
  private openAt = bucketOf(Date.now());
  /** Closed counts not yet written (or whose write failed), by `<at>\0<domain>`. */
  private unwritten = new Map<string, ThroughputSample>();
  private timer: NodeJS.Timeout | null = null;
  /** The write as a per-worker service, run every bucket. */
  readonly service: MaintenanceService;

  constructor(
    private readonly store: ThroughputSampleStore,
    private readonly logger: Logger,
  ) {
    this.service = {
      name: 'throughput-samples',
      everyMs: SAMPLE_BUCKET_MS,
      jitterMs: SAMPLE_BUCKET_MS / 10,
      scope: 'worker',
      run: () => this.write(),
    };
  }

  completed(domain: string): void {
    let t = this.open.get(domain);
    if (t === undefined)
      this.open.set(domain, (t = { completed: 0, retried: 0, troubleshooting: 0 }));
    t.completed++;
  }

  retried(domain: string): void {
    let t = this.open.get(domain);
    if (t === undefined)
      this.open.set(domain, (t = { completed: 0, retried: 0, troubleshooting: 0 }));
    t.retried++;
  }

  troubleshooting(domain: string): void {
    let t = this.open.get(domain);
    if (t === undefined)
      this.open.set(domain, (t = { completed: 0, retried: 0, troubleshooting: 0 }));
    t.troubleshooting++;
  }

  /** Starts closing a bucket at each boundary. */
  start(): void {
    if (this.timer) return;
    this.openAt = bucketOf(Date.now());
    this.schedule();
  }

  private schedule(): void {
    const now = Date.now();
    this.timer = setTimeout(() => this.rotate(), bucketOf(now) + SAMPLE_BUCKET_MS - now);
    this.timer.unref();
  }

  /** Closes the open bucket; what is counted from here on goes into the current one. */
  private rotate(): void {
    this.close();
    this.openAt = bucketOf(Date.now());
    this.schedule();
  }

  /** Moves the open bucket's counts to the unwritten ones (the bucket stays open). */
  private close(): void {
    if (this.open.size === 0) return;
    const at = this.openAt;
    for (const [domain, t] of this.open)
      this.keep({
        at: new Date(at),
        domain,
        completed: t.completed,
        failed: t.retried + t.troubleshooting,
        retried: t.retried,
        troubleshooting: t.troubleshooting,
      });
    this.open = new Map();
  }

  /** Adds a sample to the unwritten ones. */
  private keep(s: ThroughputSample): void {
    const key = `${s.at.getTime()}\u0000${s.domain}`;
    const kept = this.unwritten.get(key);
    if (!kept) {
      this.unwritten.set(key, s);
      return;
    }
    kept.completed += s.completed;
    kept.failed += s.failed;
    kept.retried += s.retried;
    kept.troubleshooting += s.troubleshooting;
  }

  /**
   * Writes everything counted so far: true when it was written (or there was nothing to
   * write). A failure is logged, and its counts are kept for the next write.
   */
  async write(): Promise<boolean> {
    this.close();
    if (this.unwritten.size === 0) return true;
    const samples = [...this.unwritten.values()];
    this.unwritten = new Map();
    try {
      await this.store.recordSamples(samples);
      return true;
    } catch (error) {
      for (const s of samples) this.keep(s);
      logFailure(
        this.logger,
        'warn',
        { samples: samples.length },
        error,
        'throughput samples: writing them failed; they are kept and added to the next write',
      );
      return false;
    }
  }

  /** Stops the bucket timer and writes the last counts (the worker is stopping). */
  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.write();
  }
}
