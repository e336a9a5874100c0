/**
 * The throughput samples role: how many attempts ended, and how, per domain and per
 * fixed time bucket, kept in the store so that a console's charts survive its restart.
 * Each worker adds what it did since its last write (a per-worker maintenance service);
 * the store adds it to the bucket's row, so many workers write the same bucket safely.
 */

/** The width of one sample bucket: every `at` is a multiple of it (ms since the epoch). */
export const SAMPLE_BUCKET_MS = 10_000;

/** How long the stores of this package keep samples: older ones are dropped. */
export const SAMPLE_RETENTION_MS = 7 * 24 * 3600_000;

/** The attempts of one domain that ended in one bucket. */
export interface ThroughputSample {
  /** The bucket's start; a multiple of SAMPLE_BUCKET_MS. */
  at: Date;
  domain: string;
  /** Attempts that completed the command. */
  completed: number;
  /** Attempts that failed (thrown, timed out): retried or sent to troubleshooting. */
  failed: number;
  /** Of the failed, those scheduled to run again. */
  retried: number;
  /** Of the failed, those that put their command in troubleshooting. */
  troubleshooting: number;
}

export interface ThroughputSampleStore {
  /** Adds each sample's counts to its bucket and domain (creating the row if needed). */
  recordSamples(samples: ThroughputSample[]): Promise<void>;
  /**
   * The buckets from `since` on (all domains, or `domain`), oldest first, one entry per
   * bucket and domain that has any counts. Kept for at least a day; retention may drop
   * older ones.
   */
  readSamples(params: { since: Date; domain?: string | undefined }): Promise<ThroughputSample[]>;
}
