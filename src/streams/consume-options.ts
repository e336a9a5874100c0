import type { Duration } from '../core/duration.js';
import { toMillis } from '../core/duration.js';
import { ConfigurationError } from '../core/errors.js';
import { validateRetryPolicy, type RetryPolicy } from '../core/retry.js';
import type { StreamHandler } from './context.js';
import { checkTopicName } from './producer.js';

/** One consumer of a stream service, as `.consume(…)` takes it. */
export interface ConsumeOptions<TData = unknown> {
  topics: string[];
  group: string;
  handler: StreamHandler<TData>;
  /** Handlers running at once (of different keys; one key's run in order). Default 16. */
  concurrency?: number;
  /** Messages read and not yet acknowledged before reading pauses (backpressure). Default 4 × batchSize or 4 × concurrency, whichever is larger. */
  maxInFlight?: number;
  /** Messages asked for per read. Default 100. */
  batchSize?: number;
  /** How long a read waits for messages. Default 1000 ms. */
  pollWait?: Duration;
  /** How long a message may stay unacknowledged by a member before another takes it. Default '30s'. */
  claimIdle?: Duration;
  /** Where a new group starts. Default 'earliest'. */
  startAt?: 'earliest' | 'latest';
  /** This member's name in the group; default hostname-pid-random. */
  consumerName?: string;
  /** This consumer's retries, instead of the service's. */
  retry?: RetryPolicy;
}

/** ConsumeOptions with every default filled in and checked. */
export interface CheckedConsume extends ConsumeOptions {
  concurrency: number;
  maxInFlight: number;
  batchSize: number;
  pollWaitMs: number;
  claimIdleMs: number;
  startAt: 'earliest' | 'latest';
}

function wholeNumber(value: unknown, name: string, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw new ConfigurationError(
      `consume ${name} must be a whole number from 1 to ${max}; got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/** Checks a consumer's options at build time, so a bad one fails at start and not later. */
export function checkConsume(options: ConsumeOptions): CheckedConsume {
  if (!Array.isArray(options?.topics) || options.topics.length === 0) {
    throw new ConfigurationError(
      'consume needs topics: a non-empty array of topic names, like { topics: ["orders"] }',
    );
  }
  options.topics.forEach((t, i) => checkTopicName(t, `consume topics[${i}]`));
  if (typeof options.group !== 'string' || !/^[A-Za-z0-9._:-]{1,200}$/.test(options.group)) {
    throw new ConfigurationError(
      `consume group must be 1 to 200 characters of letters, digits, '.', '_', ':' and '-'; got ${JSON.stringify(options.group)}`,
    );
  }
  if (typeof options.handler !== 'function') {
    throw new ConfigurationError(
      'consume needs a handler: a function (data, ctx) => … called for each event',
    );
  }
  if (
    options.startAt !== undefined &&
    options.startAt !== 'earliest' &&
    options.startAt !== 'latest'
  ) {
    throw new ConfigurationError(
      `consume startAt must be 'earliest' or 'latest'; got ${JSON.stringify(options.startAt)}`,
    );
  }
  if (options.retry) validateRetryPolicy(options.retry, 'consume retry');
  const concurrency = wholeNumber(options.concurrency, 'concurrency', 16, 10_000);
  const batchSize = wholeNumber(options.batchSize, 'batchSize', 100, 10_000);
  return {
    ...options,
    concurrency,
    // Room for several batches, so the next fetch overlaps the handling and acknowledging
    // of the last one instead of waiting for it.
    maxInFlight: wholeNumber(
      options.maxInFlight,
      'maxInFlight',
      Math.max(4 * batchSize, 4 * concurrency),
      1_000_000,
    ),
    batchSize,
    pollWaitMs: toMillis(options.pollWait ?? 1000, 'consume pollWait'),
    claimIdleMs: toMillis(options.claimIdle ?? '30s', 'consume claimIdle'),
    startAt: options.startAt ?? 'earliest',
  };
}
