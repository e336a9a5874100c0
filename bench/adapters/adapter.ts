import type { RateLimitedArgs, RateLimitedResult } from '../protocol.js';

/**
 * The one interface every benchmarked system implements, so that a new peer is one file.
 * Each workload drives only these methods; what a method costs is what is measured.
 */

/** The payload every workload sends: `{"i": n, "pad": "<100 x>"}`. */
export interface Payload {
  i: number;
  pad: string;
}

export const PAD = 'x'.repeat(100);

export function payload(i: number): Payload {
  return { i, pad: PAD };
}

/** What a handler learns about the job it runs. */
export interface JobInfo {
  i: number;
  /** 1 for the first attempt. */
  attempt: number;
  /** 'batch-done' is the batch's completion notification; everything else is 'job'. */
  kind: 'job' | 'batch-done';
}

/** Throwing fails the attempt; the system retries it at once (no backoff) where it can. */
export type JobHandler = (job: JobInfo) => void | Promise<void>;

export type Store = 'postgres' | 'redis' | 'pglite';

export interface EnqueueOptions {
  /** The jobs may be retried after a failed attempt (the retry workload). */
  retryable?: boolean;
}

export interface Adapter {
  readonly name: string;
  readonly store: Store;
  /** The exact settings this system runs with, for RESULTS.md. */
  readonly configuration: string;
  /** Connects to whatever the store holds now. */
  open(): Promise<void>;
  /** Deletes everything this system stored, recreates its schema and connects (instead of open()). */
  reset(): Promise<void>;
  /** One bulk call with all `payloads`. */
  enqueueMany(payloads: Payload[], options?: EnqueueOptions): Promise<void>;
  /** One single send. */
  enqueueOne(payload: Payload, options?: EnqueueOptions): Promise<void>;
  /** ANALYZE this system's tables (SQL stores; a no-op elsewhere). */
  analyze(): Promise<void>;
  /**
   * Starts one worker with `concurrency` handlers at once. Resolves once it is running.
   * `retrying`: the handler fails first attempts (for systems that settle differently then).
   */
  startWorker(
    handler: JobHandler,
    concurrency: number,
    options?: { retrying?: boolean },
  ): Promise<void>;
  /** Stops the worker gracefully (running handlers finish, outcomes are written). */
  stopWorker(): Promise<void>;
  /** Jobs that finished successfully, as the store says. */
  countDone(): Promise<number>;
  /**
   * The rate-limited workload (systems with shared rate limits): unrelated commands alone,
   * then beside commands that wait on one bucket.
   */
  rateLimitedMix?(args: RateLimitedArgs): Promise<RateLimitedResult>;
  /** One batch of `count` jobs with a completion notification (systems that have batches). */
  createBatch?(count: number): Promise<void>;
  close(): Promise<void>;
}

/** Thrown by open() when the system cannot run here (e.g. a store not built yet). */
export class NotAvailableError extends Error {}

export const REDIS_URL = 'redis://127.0.0.1:6379/9';
export const REDIS_DB = 9;
export const PG_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
export const PG_BENCH_DB = 'bench';
export const PG_URL = `postgres://postgres@127.0.0.1:5432/${PG_BENCH_DB}`;
