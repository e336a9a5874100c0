/**
 * The run times of one interval, in bounded memory: the count and sum are exact, and a
 * uniform sample of at most `capacity` values (reservoir sampling: each value of the
 * interval has the same chance to be kept) answers the percentiles. Up to `capacity`
 * values per interval the percentiles are exact; past it, within a percent or so.
 */
export class DurationSample {
  private readonly kept: Float64Array;
  private size = 0;
  count = 0;
  sum = 0;

  constructor(
    private readonly capacity = 10_000,
    private readonly random: () => number = Math.random,
  ) {
    this.kept = new Float64Array(capacity);
  }

  add(ms: number): void {
    this.count++;
    this.sum += ms;
    if (this.size < this.capacity) {
      this.kept[this.size++] = ms;
      return;
    }
    const slot = Math.floor(this.random() * this.count);
    if (slot < this.capacity) this.kept[slot] = ms;
  }

  /** The mean of every value added, null when none was. */
  mean(): number | null {
    return this.count === 0 ? null : this.sum / this.count;
  }

  /** The `p` quantile (0..1) of the sample, nearest rank; null when empty. */
  quantile(p: number): number | null {
    if (this.size === 0) return null;
    // a typed array sorts by number
    const sorted = this.kept.slice(0, this.size).sort();
    return sorted[Math.min(this.size - 1, Math.max(0, Math.ceil(p * this.size) - 1))]!;
  }

  /** Starts a new interval. */
  clear(): void {
    this.size = 0;
    this.count = 0;
    this.sum = 0;
  }
}
