/**
 * The workloads, as the runner drives them: what is enqueued, in which process, what is
 * timed. Every system goes through the same steps; only its adapter differs.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import type pg from 'pg';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { systemInfo, type SystemName } from './adapters/index.js';
import { Host, HostError, RESULTS_DIR } from './host-client.js';
import { benchClient, schemaBytes, withDefaultAutovacuum } from './pg-server.js';
import { waitForQuiet } from './quiet.js';
import type { RateLimitedResult } from './protocol.js';
import { latencyStats, sendToStart, type LatencyStats } from './stats.js';

export const WORKLOADS = [
  'enqueue-bulk',
  'enqueue-single',
  'drain',
  'latency',
  'retry',
  'sustained',
  'batch',
  'memory',
  'rate-limited',
] as const;
export type Workload = (typeof WORKLOADS)[number];

export interface BenchConfig {
  quick: boolean;
  runs: number;
  workloads: Set<Workload>;
  bulkCount: number;
  bulkChunk: number;
  singleCount: number;
  singleInFlight: number;
  concurrency: number;
  latencyMs: number;
  latencyIntervalMs: number;
  sustainedMs: number;
  sustainedWindowMs: number;
  sustainedChunk: number;
  sustainedMaxBacklog: number;
  batchCount: number;
  /** The embedded store drains a few thousand a second: its batch is smaller, to fit the budget. */
  embeddedBatchCount: number;
  /** Node flags for the processes that run workers (e.g. --cpu-prof). */
  workerNodeArgs: string[];
  /** The runner's progress log. */
  log: (message: string) => void;
}

export function configFor(
  quick: boolean,
): Omit<BenchConfig, 'runs' | 'workloads' | 'workerNodeArgs' | 'log'> {
  return quick
    ? {
        quick,
        bulkCount: 2000,
        bulkChunk: 1000,
        singleCount: 1000,
        singleInFlight: 16,
        concurrency: 32,
        latencyMs: 1000,
        latencyIntervalMs: 5,
        sustainedMs: 2000,
        sustainedWindowMs: 1000,
        sustainedChunk: 100,
        sustainedMaxBacklog: 2000,
        batchCount: 10_000,
        embeddedBatchCount: 5_000,
      }
    : {
        quick,
        bulkCount: 100_000,
        bulkChunk: 1000,
        singleCount: 10_000,
        singleInFlight: 16,
        concurrency: 32,
        latencyMs: 15_000,
        latencyIntervalMs: 5,
        sustainedMs: 60_000,
        sustainedWindowMs: 10_000,
        sustainedChunk: 1000,
        sustainedMaxBacklog: 20_000,
        batchCount: 1_000_000,
        embeddedBatchCount: 100_000,
      };
}

/** One repetition of the repeated workloads. Rates are jobs per second. */
export interface RunSample {
  bulk?: number;
  single?: number;
  drain?: number;
  retry?: number;
  drainRssMb?: number;
}

export interface SustainedResult {
  windowMs: number;
  /** Jobs handled per second in each window. */
  rates: number[];
  produced: number;
  lastOverFirst: number;
  /** PostgreSQL's autovacuum during the run (server stores only). */
  autovacuum?: string;
  /** Server stores: the schema's size on disk and the jobs handled, at each window's end. */
  sizes?: { bytes: number; handled: number }[];
}

export interface BatchOutcome {
  count: number;
  createMs: number;
  /** Commands handled per second, worker start to last handler call. */
  drainRate: number;
  /** Last command handled to the completion notification's handler. */
  notifyAfterMs: number | null;
  peakRssMb: number;
  /** Drain rates of every repetition (the embedded batch runs as often as the repeated workloads). */
  drainRates: number[];
  /**
   * Drain rates of 100,000 commands without a batch, measured just before and just after
   * the batch: the machine's speed drifts over a run (see RESULTS.md), so the batch is held
   * to drains taken under the same conditions, on either side of it.
   */
  referenceDrainRates: number[];
}

/** One run of a batch: the outcome before the runs and the drains around them are known. */
type BatchRun = Omit<BatchOutcome, 'drainRates' | 'referenceDrainRates'>;

export interface SystemResult {
  system: SystemName;
  unavailable: string | null;
  runs: RunSample[];
  latency:
    | (LatencyStats & {
        turnP99: number[];
        /** p50 of the send's own time (until the store acknowledged it) and of the rest. */
        ackP50: number;
        afterAckP50: number;
      })
    | null;
  sustained: SustainedResult | null;
  batch: BatchOutcome | null;
  rateLimited: RateLimitedResult | null;
  errors: string[];
  /** Correctness failures: a job missing, run twice, or not done in the store. */
  checks: string[];
}

export function emptyResult(system: SystemName): SystemResult {
  return {
    system,
    unavailable: null,
    runs: [],
    latency: null,
    sustained: null,
    batch: null,
    rateLimited: null,
    errors: [],
    checks: [],
  };
}

const rate = (count: number, ms: number) => count / (ms / 1000);

/**
 * The processes of one system. A workload gets a producer (its store reset first) and a
 * worker. On an embedded store both are the same process (one PGlite cannot be shared
 * between processes); elsewhere the worker is its own process, opened after the backlog
 * is in. A full run starts fresh processes for every workload, so each worker's peak RSS
 * is its own; --quick keeps them for the whole system (reopening the worker's connection
 * after each reset), because starting processes would be most of its minute.
 */
export class SystemHosts {
  private producerHost: Host | null = null;
  private workerHost: Host | null = null;
  private readonly embedded: boolean;

  constructor(
    readonly system: SystemName,
    private readonly config: BenchConfig,
  ) {
    this.embedded = systemInfo(system).store === 'pglite';
  }

  private get reuse(): boolean {
    return this.config.quick;
  }

  /** A producer on an emptied store. */
  async producer(): Promise<Host> {
    this.producerHost ??= await Host.spawn(
      this.system,
      this.embedded ? { nodeArgs: this.config.workerNodeArgs } : {},
    );
    await this.producerHost.call('reset', {});
    if (this.workerHost) await this.workerHost.call('reopen', {});
    return this.producerHost;
  }

  async worker(): Promise<Host> {
    if (this.embedded) return this.producerHost ?? (await this.producer());
    if (!this.workerHost) {
      this.workerHost = await Host.spawn(this.system, { nodeArgs: this.config.workerNodeArgs });
      await this.workerHost.call('open', {});
    }
    return this.workerHost;
  }

  /** Ends a workload: closes its processes unless they are kept (--quick), or after a failure. */
  async done(failed: boolean): Promise<void> {
    if (this.reuse && !failed) return;
    await this.closeAll();
  }

  async closeAll(): Promise<void> {
    for (const host of [this.workerHost, this.producerHost]) await host?.close();
    this.workerHost = null;
    this.producerHost = null;
  }
}

/**
 * Before anything timed: waits for the machine to go quiet (untimed, see quiet.ts) and
 * logs a wait of a second or more, with how busy the last window still was.
 */
async function untilQuiet(config: BenchConfig, system: SystemName, before: string): Promise<void> {
  const { waitedMs, busy } = await waitForQuiet(config.quick ? 2000 : 30_000);
  if (waitedMs >= 1000)
    config.log(
      `${system}: waited ${(waitedMs / 1000).toFixed(1)} s for the machine to go quiet before ${before} (last window ${Math.round(busy * 100)}% busy)`,
    );
}

/**
 * One workload's processes: a producer on an emptied store and, when asked for, a worker;
 * each is handed over once the machine is quiet.
 */
async function session<T>(
  hosts: SystemHosts,
  config: BenchConfig,
  fn: (producer: Host, worker: () => Promise<Host>) => Promise<T>,
): Promise<T> {
  let failed = true;
  try {
    const producer = await hosts.producer();
    await untilQuiet(config, hosts.system, 'producing');
    const worker = async () => {
      const host = await hosts.worker();
      await untilQuiet(config, hosts.system, 'the worker');
      return host;
    };
    const value = await fn(producer, worker);
    failed = false;
    return value;
  } finally {
    await hosts.done(failed);
  }
}

/** Records an error; rethrows when the system cannot run here at all. */
function noteError(result: SystemResult, what: string, error: unknown): void {
  if (error instanceof HostError && error.unavailable) {
    result.unavailable = error.message.split('\n')[0]!.replace(/^\w*Error: /, '');
    throw error;
  }
  result.errors.push(`${what}: ${(error as Error).message.split('\n')[0]}`);
}

function verify(
  result: SystemResult,
  what: string,
  expected: number,
  r: { duplicates: number; missing: number; storeDone?: number },
): void {
  if (r.duplicates > 0) result.checks.push(`${what}: ${r.duplicates} jobs handled twice`);
  if (r.missing > 0) result.checks.push(`${what}: ${r.missing} jobs never handled`);
  if (r.storeDone !== undefined && r.storeDone !== expected) {
    result.checks.push(`${what}: the store shows ${r.storeDone} done, expected ${expected}`);
  }
}

/** enqueue-bulk, then (same backlog, ANALYZE untimed) drain with peak RSS. */
export async function bulkAndDrain(
  hosts: SystemHosts,
  config: BenchConfig,
  result: SystemResult,
  sample: RunSample,
  run: number | 'before the batch' | 'after the batch',
): Promise<void> {
  const n = config.bulkCount;
  const label = typeof run === 'number' ? `run ${run + 1}` : run;
  await session(hosts, config, async (producer, worker) => {
    const bulk = await producer.call(
      'enqueueBulk',
      { count: n, chunk: config.bulkChunk, retryable: false },
      600_000,
    );
    sample.bulk = rate(n, bulk.ms);
    if (!config.workloads.has('drain') && !config.workloads.has('memory')) return;
    await producer.call('analyze', {}, 120_000);
    const host = await worker();
    const drain = await host.call(
      'drain',
      { expected: n, concurrency: config.concurrency, mode: 'count', timeoutMs: 600_000 },
      660_000,
    );
    sample.drain = rate(n, drain.ms);
    sample.drainRssMb = drain.peakRssMb;
    verify(result, `drain ${label}`, n, drain);
  }).catch((error: unknown) => noteError(result, `enqueue-bulk/drain ${label}`, error));
}

/** enqueue-single (16 in flight); the same commands are then the retry workload's backlog. */
export async function singleAndRetry(
  hosts: SystemHosts,
  config: BenchConfig,
  result: SystemResult,
  sample: RunSample,
  run: number,
): Promise<void> {
  const n = config.singleCount;
  await session(hosts, config, async (producer, worker) => {
    const retryable = config.workloads.has('retry');
    const single = await producer.call(
      'enqueueSingle',
      { count: n, inFlight: config.singleInFlight, retryable },
      600_000,
    );
    sample.single = rate(n, single.ms);
    if (!retryable) return;
    await producer.call('analyze', {}, 120_000);
    const host = await worker();
    const retry = await host.call(
      'drain',
      { expected: n, concurrency: config.concurrency, mode: 'retry', timeoutMs: 300_000 },
      360_000,
    );
    sample.retry = rate(n, retry.ms);
    verify(result, `retry run ${run + 1}`, n, retry);
    if (retry.failures < n)
      result.checks.push(
        `retry run ${run + 1}: only ${retry.failures} first attempts failed, expected ${n}`,
      );
  }).catch((error: unknown) => noteError(result, `enqueue-single/retry run ${run + 1}`, error));
}

/** One system's part in the latency workload: its processes and every sample so far. */
interface LatencySubject {
  hosts: SystemHosts;
  result: SystemResult;
  producer: Host;
  worker: Host;
  sentAt: number[];
  ackedAt: number[];
  startedAt: [number, number][];
  /** The index of the first send of each turn. */
  turns: number[];
}

/**
 * An idle worker; one send every 5 ms; send to handler start. The systems on one store
 * take turns (`config.runs` turns each, each a share of `latencyMs`) with every worker of
 * the store started and idle, so a drift of the machine's speed over the minute hits
 * each of them alike and each system gets as many samples as one long run would give.
 * The percentiles are over all of a system's samples; each turn's p99 gives the spread.
 */
export async function latency(
  group: { hosts: SystemHosts; result: SystemResult }[],
  config: BenchConfig,
): Promise<void> {
  const subjects: LatencySubject[] = [];
  try {
    for (const { hosts, result } of group) {
      await openSubject(hosts, result, config).then(
        (subject) => void subjects.push(subject),
        (error: unknown) => dropSubject(hosts, result, error),
      );
    }
    await sleep(config.quick ? 200 : 1000);
    const turnMs = config.latencyMs / config.runs;
    for (let turn = 0; turn < config.runs; turn++) {
      for (const subject of [...subjects]) {
        await latencyTurn(subject, config, turnMs).catch((error: unknown) => {
          subjects.splice(subjects.indexOf(subject), 1);
          return dropSubject(subject.hosts, subject.result, error);
        });
      }
    }
    for (const subject of subjects) {
      await subject.worker
        .call('stopWorker', {})
        .then(() => recordLatency(subject))
        .catch((error: unknown) => dropSubject(subject.hosts, subject.result, error));
    }
  } finally {
    for (const { hosts } of group) await hosts.done(false);
  }
}

/** A system's producer on an emptied store and its worker, started and idle. */
async function openSubject(
  hosts: SystemHosts,
  result: SystemResult,
  config: BenchConfig,
): Promise<LatencySubject> {
  const producer = await hosts.producer();
  const worker = await hosts.worker();
  await worker.call('startWorker', { concurrency: config.concurrency, mode: 'latency' });
  return { hosts, result, producer, worker, sentAt: [], ackedAt: [], startedAt: [], turns: [] };
}

async function latencyTurn(subject: LatencySubject, config: BenchConfig, turnMs: number) {
  await untilQuiet(config, subject.hosts.system, 'its latency turn');
  const from = subject.sentAt.length;
  subject.turns.push(from);
  const { sentAt, ackedAt } = await subject.producer.call(
    'latencyProduce',
    { from, durationMs: turnMs, intervalMs: config.latencyIntervalMs },
    turnMs + 60_000,
  );
  subject.sentAt.push(...sentAt);
  subject.ackedAt.push(...ackedAt);
  // the turn ends when its last handler has started (or 5 s after the last send)
  const { startedAt } = await subject.worker.call('latencySamples', {
    expected: subject.sentAt.length,
    timeoutMs: 5000,
  });
  subject.startedAt = startedAt;
}

function recordLatency({ hosts, result, sentAt, ackedAt, startedAt, turns }: LatencySubject) {
  const each = sendToStart(sentAt, startedAt);
  const bounds = [...turns, sentAt.length];
  // The send's share (until the store acknowledged it, on the producer's clock) and the
  // rest (the worker's wake-up and claim, less what overlapped the acknowledgement).
  const ack = sentAt.map((sent, i) => (ackedAt[i] === undefined ? undefined : ackedAt[i] - sent));
  const afterAck = each.map((l, i) =>
    l === undefined || ack[i] === undefined ? undefined : l - ack[i],
  );
  result.latency = {
    ...latencyStats(each),
    turnP99: turns.map((from, k) => latencyStats(each.slice(from, bounds[k + 1])).p99),
    ackP50: latencyStats(ack).p50,
    afterAckP50: latencyStats(afterAck).p50,
  };
  if (result.latency.lost > 0)
    result.checks.push(
      `latency: ${result.latency.lost} sends never reached a handler within 5 s of the last send`,
    );
  // every sample, so a tail can be looked at after the run: when each send was made, when
  // the store acknowledged it, and when its handler started
  const dir = join(RESULTS_DIR, 'latency');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, `${hosts.system}.json`),
    JSON.stringify({ sentAt, ackedAt, startedAt, turns }),
  );
}

/** A system that failed during latency leaves the round; the others go on. */
async function dropSubject(hosts: SystemHosts, result: SystemResult, error: unknown) {
  await hosts.closeAll();
  try {
    noteError(result, 'latency', error);
  } catch {
    // not available here: noteError has recorded why, and the runner reports it
  }
}

/**
 * Producer and worker together at full speed; the producer keeps at most
 * `sustainedMaxBacklog` jobs queued ahead of the worker, so the table grows with finished
 * jobs (as it does in production) and not with an ever longer queue.
 */
export async function sustained(
  hosts: SystemHosts,
  config: BenchConfig,
  result: SystemResult,
): Promise<void> {
  // On the PostgreSQL server (the systems with a schema there): autovacuum at its default,
  // and the schema's size sampled. PGlite runs no autovacuum (one process, no background
  // workers), Redis nothing of the kind. --quick leaves the server alone.
  const schema = config.quick ? undefined : systemInfo(hosts.system).schema;
  const run = () => sustainedOnce(hosts, config, result, schema);
  if (!schema) return run();
  const { autovacuum } = await withDefaultAutovacuum(run);
  if (result.sustained) result.sustained.autovacuum = autovacuum;
}

async function sustainedOnce(
  hosts: SystemHosts,
  config: BenchConfig,
  result: SystemResult,
  schema: string | undefined,
): Promise<void> {
  await session(hosts, config, async (producer, worker) => {
    const host = await worker();
    await host.call('startWorker', { concurrency: config.concurrency, mode: 'sustained' });
    let handled = 0;
    if (host !== producer)
      host.onProgress((done) => {
        handled = done;
        producer.notify('doneUpdate', { done });
      });
    const sizes = schema
      ? await SizeSamples.start(schema, config.sustainedWindowMs, () => handled)
      : null;
    const [windows, produced] = await Promise.all([
      host.call(
        'windows',
        { durationMs: config.sustainedMs, windowMs: config.sustainedWindowMs },
        config.sustainedMs + 60_000,
      ),
      producer.call(
        'produce',
        {
          durationMs: config.sustainedMs,
          chunk: config.sustainedChunk,
          maxBacklog: config.sustainedMaxBacklog,
        },
        config.sustainedMs + 60_000,
      ),
    ]);
    const samples = await sizes?.stop();
    await host.call('stopWorker', {}, 60_000);
    const rates = windows.done.map((d) => rate(d, config.sustainedWindowMs));
    result.sustained = {
      windowMs: config.sustainedWindowMs,
      rates,
      produced: produced.produced,
      lastOverFirst: (rates.at(-1) ?? 0) / (rates[0] || Number.NaN),
      ...(samples ? { sizes: samples } : {}),
    };
  }).catch((error: unknown) => noteError(result, 'sustained', error));
}

/**
 * The size of a system's schema on the PostgreSQL server (tables, indexes, TOAST) at the
 * end of each window of the sustained run, with the jobs handled by then: whether the
 * tables grow with the jobs they keep or with the dead rows of their updates.
 */
class SizeSamples {
  private readonly samples: { bytes: number; handled: number }[] = [];
  private sampling: Promise<void> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;

  private constructor(
    private readonly client: pg.Client,
    schema: string,
    windowMs: number,
    handled: () => number,
  ) {
    this.timer = setInterval(() => {
      const at = handled();
      this.sampling = this.sampling
        .then(() => schemaBytes(client, schema))
        .then((bytes) => void this.samples.push({ bytes, handled: at }));
    }, windowMs);
  }

  static async start(
    schema: string,
    windowMs: number,
    handled: () => number,
  ): Promise<SizeSamples> {
    return new SizeSamples(await benchClient(), schema, windowMs, handled);
  }

  async stop(): Promise<{ bytes: number; handled: number }[]> {
    clearInterval(this.timer);
    try {
      await this.sampling;
    } finally {
      await this.client.end();
    }
    return this.samples;
  }
}

/**
 * One batch created in one call, ANALYZE (untimed), drained; its completion notification
 * awaited. The 1,000,000-command batch of the server stores runs once (it takes most of a
 * minute); the embedded store's smaller batch runs as often as the repeated workloads,
 * and the repetition with the median drain rate is the one reported.
 */
/**
 * rate-limited (ours only): 19,000 commands without limits (each handler waits 20 ms)
 * run alone, then again behind 600 commands of a type limited to 20/s on one shared
 * bucket, by three workers of 32, three rounds.
 * Waiting for a token must cost next to nothing: the unrelated rate beside the limited
 * commands against alone, and refusals (limited commands sent back to the store) per
 * token granted meanwhile.
 */
export async function rateLimited(
  hosts: SystemHosts,
  config: BenchConfig,
  result: SystemResult,
): Promise<void> {
  await session(hosts, config, async (producer) => {
    const r = await producer.call(
      'rateLimited',
      {
        unrelated: config.quick ? 3000 : 19_000,
        limited: 600,
        limitPerSecond: 20,
        workers: 3,
        concurrency: config.concurrency,
        timeoutMs: 300_000,
      },
      900_000,
    );
    result.rateLimited = r;
    config.log(
      `${hosts.system} rate-limited: unrelated ${Math.round(r.aloneRate)}/s alone, ${Math.round(r.besideRate)}/s beside (${Math.round((100 * r.besideRate) / r.aloneRate)}%); ${r.granted} tokens granted, ${r.refusals} refusals (${(r.refusals / Math.max(1, r.granted)).toFixed(2)} per token) in ${Math.round(r.besideMs)} ms`,
    );
  });
}

export async function batch(
  hosts: SystemHosts,
  config: BenchConfig,
  result: SystemResult,
): Promise<void> {
  const embedded = systemInfo(hosts.system).store === 'pglite';
  const withDrain = { ...config, workloads: new Set([...config.workloads, 'drain' as const]) };
  const referenceDrain = async (when: 'before the batch' | 'after the batch') => {
    const sample: RunSample = {};
    await bulkAndDrain(hosts, withDrain, result, sample, when);
    return sample.drain;
  };
  const before = await referenceDrain('before the batch');
  const outcomes: BatchRun[] = [];
  for (let run = 0; run < (embedded ? config.runs : 1); run++) {
    const outcome = await batchOnce(hosts, config, result, embedded);
    if (outcome) outcomes.push(outcome);
  }
  if (outcomes.length === 0) return;
  const after = await referenceDrain('after the batch');
  const references = [before, after].filter((r): r is number => r !== undefined);
  const rates = outcomes.map((o) => o.drainRate);
  const median = [...outcomes].sort((a, b) => a.drainRate - b.drainRate)[
    Math.floor((outcomes.length - 1) / 2)
  ]!;
  result.batch = { ...median, drainRates: rates, referenceDrainRates: references };
}

async function batchOnce(
  hosts: SystemHosts,
  config: BenchConfig,
  result: SystemResult,
  embedded: boolean,
): Promise<BatchRun | null> {
  const n = embedded ? config.embeddedBatchCount : config.batchCount;
  let outcome: BatchRun | null = null;
  await session(hosts, config, async (producer, worker) => {
    const created = await producer.call('createBatch', { count: n }, 600_000);
    await producer.call('analyze', {}, 300_000);
    const host = await worker();
    const drained = await host.call(
      'drainBatch',
      { expected: n, concurrency: config.concurrency, timeoutMs: 900_000 },
      960_000,
    );
    outcome = {
      count: n,
      createMs: created.ms,
      drainRate: rate(n, drained.handledMs),
      notifyAfterMs: drained.notifiedMs === null ? null : drained.notifiedMs - drained.handledMs,
      peakRssMb: drained.peakRssMb,
    };
    verify(result, 'batch', n, drained);
    if (drained.notifiedMs === null)
      result.checks.push('batch: the completion notification never arrived');
  }).catch((error: unknown) => noteError(result, 'batch', error));
  return outcome;
}
