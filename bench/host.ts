/**
 * A host process: one benchmarked system, driven by the runner over IPC. Workers run here
 * and not in the runner so that each worker's memory is its own process's, and a crash
 * cannot poison the runner. Every duration is measured here, on this process's clock;
 * times that cross processes (latency) use the shared wall clock
 * (performance.timeOrigin + performance.now()).
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  NotAvailableError,
  payload,
  type Adapter,
  type JobHandler,
  type Payload,
} from './adapters/adapter.js';
import { isSystemName, loadAdapter } from './adapters/index.js';
import type {
  BatchResult,
  DrainResult,
  Op,
  ProgressEvent,
  Reply,
  Request,
  Requests,
  WorkerMode,
} from './protocol.js';

const now = () => performance.timeOrigin + performance.now();
const peakRssMb = () => process.resourceUsage().maxRSS / 1024;

/** Counts what the handler saw: every job once, none missing, none twice. */
class Tally {
  handled = 0;
  duplicates = 0;
  failures = 0;
  lastAt = 0;
  notifiedAt: number | null = null;
  readonly startedAt: [number, number][] = [];
  private readonly seen: Uint8Array | null;
  private resolveAll: (() => void) | null = null;
  readonly allHandled: Promise<void>;

  constructor(readonly expected: number) {
    this.seen = expected > 0 ? new Uint8Array(expected) : null;
    this.allHandled = new Promise((resolve) => (this.resolveAll = resolve));
    if (expected === 0) this.resolveAll?.();
  }

  record(i: number): void {
    if (this.seen) {
      if (this.seen[i]) this.duplicates++;
      else this.seen[i] = 1;
    }
    this.handled++;
    this.lastAt = now();
    if (this.handled === this.expected) this.resolveAll?.();
  }

  missing(): number {
    if (!this.seen) return 0;
    let missing = 0;
    for (const bit of this.seen) if (!bit) missing++;
    return missing;
  }
}

let adapter: Adapter;
let tally = new Tally(0);
let workerRunning = false;
let workerStartedAt = 0;
/** Jobs done as the worker's process reported them, relayed by the runner (sustained). */
let relayedDone = 0;
let progressTimer: NodeJS.Timeout | null = null;

function handlerFor(mode: 'count' | 'retry' | WorkerMode): JobHandler {
  switch (mode) {
    case 'latency':
      return (job) => {
        tally.startedAt.push([job.i, now()]);
      };
    case 'retry':
      return (job) => {
        if (job.attempt === 1) {
          tally.failures++;
          throw new Error('the first attempt fails by design');
        }
        tally.record(job.i);
      };
    case 'batch':
      return (job) => {
        if (job.kind === 'batch-done') tally.notifiedAt = now();
        else tally.record(job.i);
      };
    default:
      return (job) => tally.record(job.i);
  }
}

async function startWorker(
  mode: 'count' | 'retry' | WorkerMode,
  concurrency: number,
): Promise<void> {
  workerStartedAt = now();
  await adapter.startWorker(handlerFor(mode), concurrency, { retrying: mode === 'retry' });
  workerRunning = true;
  if (mode === 'sustained') {
    progressTimer = setInterval(
      () => process.send?.({ event: 'progress', done: tally.handled } satisfies ProgressEvent),
      50,
    );
  }
}

async function stopWorker(): Promise<void> {
  if (progressTimer) clearInterval(progressTimer);
  progressTimer = null;
  await adapter.stopWorker();
  workerRunning = false;
}

async function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  const timeout = sleep(timeoutMs, undefined, { ref: false }).then(() => {
    throw new Error(`${what} did not finish within ${timeoutMs / 1000} s`);
  });
  return Promise.race([promise, timeout]);
}

function payloads(from: number, count: number): Payload[] {
  return Array.from({ length: count }, (_, k) => payload(from + k));
}

const ops: { [O in Op]: (args: Requests[O][0]) => Promise<Requests[O][1]> } = {
  async reset() {
    await adapter.reset();
    return null;
  },
  async open() {
    await adapter.open();
    return null;
  },
  async reopen() {
    await adapter.close();
    await adapter.open();
    return null;
  },
  async analyze() {
    const t0 = now();
    await adapter.analyze();
    return { ms: now() - t0 };
  },
  async enqueueBulk({ count, chunk, retryable }) {
    const t0 = now();
    for (let i = 0; i < count; i += chunk) {
      await adapter.enqueueMany(payloads(i, Math.min(chunk, count - i)), { retryable });
    }
    return { ms: now() - t0 };
  },
  async enqueueSingle({ count, inFlight, retryable }) {
    let next = 0;
    const t0 = now();
    const lane = async () => {
      while (next < count) await adapter.enqueueOne(payload(next++), { retryable });
    };
    await Promise.all(Array.from({ length: inFlight }, lane));
    return { ms: now() - t0 };
  },
  async drain({ expected, concurrency, mode, timeoutMs }): Promise<DrainResult> {
    tally = new Tally(expected);
    await startWorker(mode, concurrency);
    const t0 = workerStartedAt;
    await within(tally.allHandled, timeoutMs, `handling ${expected} jobs`);
    let storeDone = 0;
    const deadline = now() + 30_000;
    while ((storeDone = await adapter.countDone()) < expected && now() < deadline) await sleep(10);
    const ms = now() - t0;
    await stopWorker();
    return {
      ms,
      handledMs: tally.lastAt - t0,
      handled: tally.handled,
      duplicates: tally.duplicates,
      missing: tally.missing(),
      failures: tally.failures,
      storeDone,
      peakRssMb: peakRssMb(),
    };
  },
  async startWorker({ concurrency, mode }) {
    tally = new Tally(0);
    await startWorker(mode, concurrency);
    return null;
  },
  async latencyProduce({ from, durationMs, intervalMs }) {
    const sentAt: number[] = [];
    const ackedAt: number[] = [];
    const pending: Promise<void>[] = [];
    const t0 = now();
    for (let k = 0; k * intervalMs < durationMs; k++) {
      const wait = t0 + k * intervalMs - now();
      if (wait > 0) await sleep(wait);
      sentAt[k] = now();
      pending.push(adapter.enqueueOne(payload(from + k)).then(() => void (ackedAt[k] = now())));
    }
    await Promise.all(pending);
    return { sentAt, ackedAt };
  },
  async latencySamples({ expected, timeoutMs }) {
    const deadline = now() + timeoutMs;
    while (tally.startedAt.length < expected && now() < deadline) await sleep(10);
    return { startedAt: tally.startedAt };
  },
  async produce({ durationMs, chunk, maxBacklog }) {
    let produced = 0;
    const end = now() + durationMs;
    const done = () => (workerRunning ? tally.handled : relayedDone);
    while (now() < end) {
      if (produced - done() >= maxBacklog) {
        await sleep(1);
        continue;
      }
      await adapter.enqueueMany(payloads(produced, chunk));
      produced += chunk;
    }
    return { produced };
  },
  doneUpdate({ done }) {
    relayedDone = done;
    return Promise.resolve(null);
  },
  async windows({ durationMs, windowMs }) {
    const done: number[] = [];
    const t0 = now();
    let before = tally.handled;
    for (let w = 1; w * windowMs <= durationMs; w++) {
      await sleep(Math.max(0, t0 + w * windowMs - now()));
      done.push(tally.handled - before);
      before = tally.handled;
    }
    return { done };
  },
  async createBatch({ count }) {
    if (!adapter.createBatch) throw new NotAvailableError(`${adapter.name} has no batches`);
    const t0 = now();
    await adapter.createBatch(count);
    return { ms: now() - t0 };
  },
  async drainBatch({ expected, concurrency, timeoutMs }): Promise<BatchResult> {
    tally = new Tally(expected);
    await startWorker('batch', concurrency);
    await within(tally.allHandled, timeoutMs, `handling the batch's ${expected} commands`);
    const deadline = now() + 60_000;
    while (tally.notifiedAt === null && now() < deadline) await sleep(5);
    const result = {
      handledMs: tally.lastAt - workerStartedAt,
      notifiedMs: tally.notifiedAt === null ? null : tally.notifiedAt - workerStartedAt,
      handled: tally.handled,
      duplicates: tally.duplicates,
      missing: tally.missing(),
      peakRssMb: peakRssMb(),
    };
    await stopWorker();
    return result;
  },
  async rateLimited(args) {
    if (!adapter.rateLimitedMix) {
      throw new NotAvailableError(`${adapter.name} has no shared rate limits to measure`);
    }
    return adapter.rateLimitedMix(args);
  },
  async stopWorker() {
    await stopWorker();
    return null;
  },
  async close() {
    await adapter.close();
    return null;
  },
};

async function main(): Promise<void> {
  const name = process.argv[2] ?? '';
  if (!isSystemName(name)) throw new Error(`unknown system ${JSON.stringify(name)}`);
  adapter = await loadAdapter(name);
  process.on('message', (message: Request | ProgressEvent) => {
    if ('event' in message) return;
    void handle(message);
  });
  process.send?.({ event: 'ready' });
}

async function handle(request: Request): Promise<void> {
  let reply: Reply;
  try {
    const value = await (ops[request.op] as (args: unknown) => Promise<unknown>)(request.args);
    reply = { id: request.id, ok: true, value };
  } catch (error) {
    const err = error as Error;
    reply = {
      id: request.id,
      ok: false,
      error: err.stack ?? String(err),
      unavailable: err instanceof NotAvailableError,
    };
  }
  process.send?.(reply, () => {
    if (request.op === 'close') process.exit(0);
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
