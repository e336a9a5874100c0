/**
 * How many commands a worker keeps claimed but not yet started. A fixed number is wrong
 * both ways: fast handlers (a few hundred microseconds) empty a small buffer faster than
 * a claim comes back, so the worker waits on the store; slow handlers (seconds) sit on a
 * large buffer that other workers could have run. So the buffer holds about
 * `horizonMs` worth of the worker's own recent completion rate, never less than
 * `min` (one concurrency's worth) and never more than `max`.
 */
export class AdaptivePrefetch {
  private completedInWindow = 0;
  private windowStart = Date.now();
  private ratePerMs = 0;

  constructor(
    private readonly min: number,
    private readonly max: number,
    private readonly horizonMs = 25,
    private readonly windowMs = 250,
  ) {}

  /** Counts one finished command. */
  finished(now = Date.now()): void {
    this.completedInWindow++;
    const elapsed = now - this.windowStart;
    if (elapsed < this.windowMs) return;
    const rate = this.completedInWindow / elapsed;
    // Smoothed so one slow window (a pause, a GC) does not collapse the buffer.
    this.ratePerMs = this.ratePerMs === 0 ? rate : this.ratePerMs * 0.5 + rate * 0.5;
    this.completedInWindow = 0;
    this.windowStart = now;
  }

  get size(): number {
    return Math.min(this.max, Math.max(this.min, Math.round(this.ratePerMs * this.horizonMs)));
  }
}
