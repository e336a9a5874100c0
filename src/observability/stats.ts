import type { Logger } from 'pino';
import type { CommandBus } from '../bus/bus.js';
import { describeError } from '../core/describe-error.js';
import { ConfigurationError } from '../core/errors.js';
import type { SettledEvent } from '../core/events.js';
import type { Worker } from '../worker/worker.js';
import { DurationSample } from './duration-sample.js';

export interface StatsLineOptions {
  /** How often a line is logged, in milliseconds. */
  intervalMs: number;
  /** Where the line goes, at info, as `msg: 'stats'`. */
  logger: Logger;
}

/** The line's fields; rates and times cover the interval since the last line. */
export interface StatsLine {
  intervalMs: number;
  /** Attempts whose outcome was written in the interval: completed, retried, troubleshooting. */
  processed: number;
  /** Attempts whose outcome was written (completed, retried, troubleshooting) per second. */
  processedPerSecond: number;
  /** Completed among them, 0 to 1; null when none was. */
  successRate: number | null;
  /** Handler run time of those attempts, in milliseconds; null when none ran. */
  meanMs: number | null;
  p95Ms: number | null;
  /** Pending and in-progress commands of the worker's domains now; null when the store failed. */
  queueDepth: number | null;
  /** Seconds the oldest due pending command of those domains has waited; 0 when none waits. */
  oldestPendingSeconds: number | null;
  /** Why the queue could not be read, when it could not. */
  storeError?: string;
}

const round = (n: number | null, digits = 2) =>
  n === null ? null : Math.round(n * 10 ** digits) / 10 ** digits;

/**
 * Logs one line every `intervalMs`: throughput, success rate and processing time of the
 * interval (from the worker's events), queue depth and lag (from the store's counts and
 * oldest pending command, both index reads). A store that does not answer makes the line
 * say so; nothing throws. Returns a function that stops it.
 */
export function startStatsLine(
  bus: CommandBus,
  worker: Worker,
  options: StatsLineOptions,
): () => void {
  const { intervalMs, logger } = options;
  if (!Number.isFinite(intervalMs) || intervalMs <= 0) {
    throw new ConfigurationError(
      `the stats line's intervalMs must be a positive number of milliseconds; got ${String(intervalMs)}`,
    );
  }
  const durations = new DurationSample();
  let completed = 0;
  let failed = 0;
  const ran = (e: SettledEvent) => {
    if (e.durationMs !== null) durations.add(e.durationMs);
  };
  const onCompleted = (e: SettledEvent) => {
    completed++;
    ran(e);
  };
  const onFailed = (e: SettledEvent) => {
    failed++;
    ran(e);
  };
  worker.events.on('completed', onCompleted);
  worker.events.on('retried', onFailed);
  worker.events.on('troubleshooting', onFailed);

  let since = performance.now();
  let writing = false;
  const tick = async () => {
    // a store slower than the interval: skip a line rather than pile reads up
    if (writing) return;
    writing = true;
    try {
      const now = performance.now();
      const processed = completed + failed;
      const line: StatsLine = {
        intervalMs: Math.round(now - since),
        processed,
        processedPerSecond: round((processed * 1000) / Math.max(1, now - since))!,
        successRate: processed === 0 ? null : round(completed / processed, 4),
        meanMs: round(durations.mean()),
        p95Ms: round(durations.quantile(0.95)),
        queueDepth: null,
        oldestPendingSeconds: null,
      };
      since = now;
      completed = 0;
      failed = 0;
      durations.clear();
      Object.assign(line, await readQueue(bus, worker.domains));
      try {
        logger.info(line, 'stats');
      } catch {
        // a logger that fails does not stop the worker or the next line
      }
    } finally {
      writing = false;
    }
  };
  const timer = setInterval(() => void tick(), intervalMs);
  timer.unref();

  return () => {
    clearInterval(timer);
    worker.events.off('completed', onCompleted);
    worker.events.off('retried', onFailed);
    worker.events.off('troubleshooting', onFailed);
  };
}

async function readQueue(
  bus: CommandBus,
  domains: readonly string[],
): Promise<Pick<StatsLine, 'queueDepth' | 'oldestPendingSeconds' | 'storeError'>> {
  const mine = (domain: string) => domains.length === 0 || domains.includes(domain);
  try {
    const [counts, oldest] = await Promise.all([bus.counts(), bus.oldestPending()]);
    const at = Date.now();
    let depth = 0;
    for (const c of counts)
      if (mine(c.domain) && (c.state === 'pending' || c.state === 'in_progress')) depth += c.count;
    let lagMs = 0;
    for (const o of oldest) if (mine(o.domain)) lagMs = Math.max(lagMs, at - o.runAt.getTime());
    return { queueDepth: depth, oldestPendingSeconds: round(lagMs / 1000) };
  } catch (error) {
    return {
      queueDepth: null,
      oldestPendingSeconds: null,
      storeError: describeError(error).message,
    };
  }
}
