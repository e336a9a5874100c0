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
