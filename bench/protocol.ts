/** Messages between the runner and a host process (child_process IPC). */

export type DrainMode = 'count' | 'retry';
export type WorkerMode = 'latency' | 'sustained' | 'batch';

export interface Requests {
  reset: [Record<string, never>, null];
  open: [Record<string, never>, null];
  reopen: [Record<string, never>, null];
  analyze: [Record<string, never>, { ms: number }];
  enqueueBulk: [{ count: number; chunk: number; retryable: boolean }, { ms: number }];
  enqueueSingle: [{ count: number; inFlight: number; retryable: boolean }, { ms: number }];
  drain: [
    { expected: number; concurrency: number; mode: DrainMode; timeoutMs: number },
    DrainResult,
  ];
  startWorker: [{ concurrency: number; mode: WorkerMode }, null];
  latencyProduce: [
    { from: number; durationMs: number; intervalMs: number },
    { sentAt: number[]; ackedAt: number[] },
  ];
  latencySamples: [{ expected: number; timeoutMs: number }, { startedAt: [number, number][] }];
  produce: [{ durationMs: number; chunk: number; maxBacklog: number }, { produced: number }];
  doneUpdate: [{ done: number }, null];
  windows: [{ durationMs: number; windowMs: number }, { done: number[] }];
  createBatch: [{ count: number }, { ms: number }];
  drainBatch: [{ expected: number; concurrency: number; timeoutMs: number }, BatchResult];
  rateLimited: [RateLimitedArgs, RateLimitedResult];
  stopWorker: [Record<string, never>, null];
  close: [Record<string, never>, null];
}

export type Op = keyof Requests;

export interface DrainResult {
  /** Worker start to every job handled and the store showing them all done. */
  ms: number;
  /** Worker start to the last handler call. */
  handledMs: number;
  handled: number;
  duplicates: number;
  missing: number;
  /** First attempts that failed on purpose (retry workload). */
  failures: number;
  storeDone: number;
  peakRssMb: number;
}

export interface RateLimitedArgs {
  /** Commands of a type without limits, run once alone and once beside the limited ones. */
  unrelated: number;
  /** Commands behind one shared bucket, all sent before the unrelated ones. */
  limited: number;
  /** The bucket: `limit` tokens a second, burst `limit`. */
  limitPerSecond: number;
  workers: number;
  concurrency: number;
  timeoutMs: number;
}

/** Of three rounds: rates are medians, counts and time are sums over the rounds. */
export interface RateLimitedResult {
  /** Unrelated commands a second with no limited command in the store. */
  aloneRate: number;
  /** Unrelated commands a second while the limited ones wait for tokens. */
  besideRate: number;
  /** Limited handlers started while the unrelated ones ran (tokens granted and used). */
  granted: number;
  /** Limited commands sent back to the store to wait (each a settle, an audit row, a claim). */
  refusals: number;
  /** How long the unrelated commands took beside the limited ones. */
  besideMs: number;
}

export interface BatchResult {
  /** Worker start to the last command handled. */
  handledMs: number;
  /** Worker start to the completion notification's handler. */
  notifiedMs: number | null;
  handled: number;
  duplicates: number;
  missing: number;
  peakRssMb: number;
}

export interface Request<O extends Op = Op> {
  id: number;
  op: O;
  args: Requests[O][0];
}

export type Reply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: string; unavailable?: boolean };

export interface ProgressEvent {
  event: 'progress';
  done: number;
}
