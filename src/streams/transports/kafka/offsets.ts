/**
 * What this member has read and finished in one assigned partition, and so which offset it
 * may commit. Kafka's committed offset means "everything before it is done", while the
 * runner finishes messages out of order (different keys in parallel, retries): the commit
 * may only move up to the first fetched message that is not done yet.
 */
export class PartitionProgress {
  /** Fetched and not yet done. */
  private readonly outstanding = new Set<number>();
  /** The highest offset fetched since the partition was assigned; -1 before the first. */
  private highestFetched = -1;
  /** The offset last committed (or queued for commit) by this member; -1 when none. */
  private committedOffset = -1;

  constructor(
    readonly topic: string,
    readonly partition: number,
  ) {}

  get key(): string {
    return partitionKey(this.topic, this.partition);
  }

  get pendingCount(): number {
    return this.outstanding.size;
  }

  fetched(offset: number): void {
    this.outstanding.add(offset);
    if (offset > this.highestFetched) this.highestFetched = offset;
  }

  /** Marks a fetched message done; false when it was not outstanding (already done, or stale). */
  done(offset: number): boolean {
    return this.outstanding.delete(offset);
  }

  /**
   * The offset to commit now, or null when the commit would not move. Messages are read in
   * offset order, so every offset below the lowest outstanding one that was fetched is
   * done; offsets never fetched below it (compacted away, transaction markers) do not exist.
   */
  commitOffset(): number | null {
    if (this.highestFetched < 0) return null;
    let next = this.highestFetched + 1;
    for (const offset of this.outstanding) if (offset < next) next = offset;
    return next > this.committedOffset ? next : null;
  }

  committed(offset: number): void {
    if (offset > this.committedOffset) this.committedOffset = offset;
  }

  /** A commit that failed: the next one must be tried again from here. */
  commitFailed(offset: number): void {
    if (this.committedOffset === offset) this.committedOffset = -1;
  }
}

export function partitionKey(topic: string, partition: number): string {
  return `${topic}:${partition}`;
}
