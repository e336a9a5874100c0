import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { CountedHistogram, type DurationCounts } from './counted-histogram.js';

/**
 * Every metric Dispatchbox exports, made on one registry. Labels are bounded: a domain, a
 * type, an outcome or state from a fixed list, a reason from a fixed list; never a
 * command id, a worker id, an error message or a rate-limit key (keys may name tenants).
 * docs/metrics.md lists them with their meaning and example queries.
 */

/** What a finished attempt came to: the `outcome` label of the processed counter. */
export const OUTCOMES = [
  'completed',
  'retried',
  'troubleshooting',
  'released',
  'stale',
  'lease_lost',
] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** Why a rate limit refused an attempt: the `reason` label of the refusals counter. */
export const LIMIT_REASONS = ['rate_limit', 'concurrency_cap', 'store_unavailable'] as const;
export type LimitReason = (typeof LIMIT_REASONS)[number];

/** Handler run times: a millisecond to five minutes. */
export const PROCESSING_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
];
/** Send acknowledgements: a fraction of a millisecond (a coalesced insert) to seconds. */
const SEND_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
/** Commands per claim: one to the largest claim a store allows (1,000). */
const BATCH_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];

const DOMAIN_TYPE = ['domain', 'type'] as const;

/**
 * What the workers did with one (domain, type), counted in plain numbers and written into
 * the metrics when they are scraped: prom-client hashes a label set at every increment,
 * which cost 2-3 µs a command with four of them, where an addition costs nothing.
 */
export interface TypeCounts {
  readonly domain: string;
  readonly type: string;
  readonly outcomes: Record<Outcome, number>;
  inFlight: number;
  retries: number;
  troubleshooting: number;
  /** How long its handlers ran, counted into the buckets of the duration histogram. */
  readonly duration: DurationCounts;
}

/** Commands this process stored, of one (domain, type). */
export interface SentCounts {
  readonly domain: string;
  readonly type: string;
  sent: number;
}

/** Where the counters kept in plain numbers are read from at each scrape. */
export interface CountSources {
  types(): Iterable<TypeCounts>;
  sent(): Iterable<SentCounts>;
}

export function defineMetrics(registry: Registry, sources: CountSources) {
  const registers = [registry];
  return {
    processed: new Counter({
      name: 'dispatchbox_commands_processed_total',
      help: 'Attempts finished, by what they came to (completed, retried, troubleshooting, released, stale, lease_lost).',
      labelNames: ['domain', 'type', 'outcome'] as const,
      registers,
      collect() {
        this.reset();
        for (const t of sources.types())
          for (const outcome of OUTCOMES)
            this.inc({ domain: t.domain, type: t.type, outcome }, t.outcomes[outcome]);
      },
    }),
    duration: new CountedHistogram(
      {
        name: 'dispatchbox_processing_duration_seconds',
        help: 'How long handlers ran, for every attempt whose outcome was written or refused as stale.',
        buckets: PROCESSING_BUCKETS,
        registers,
      },
      () => sources.types(),
    ),
    inFlight: new Gauge({
      name: 'dispatchbox_commands_in_flight',
      help: 'Attempts started whose outcome is not written yet (the handler runs, or its outcome waits to be written).',
      labelNames: DOMAIN_TYPE,
      registers,
      collect() {
        this.reset();
        for (const t of sources.types()) this.set({ domain: t.domain, type: t.type }, t.inFlight);
      },
    }),
    retries: new Counter({
      name: 'dispatchbox_retry_attempts_total',
      help: 'Retries written: a transient failure with attempts left, to run again after a backoff.',
      labelNames: DOMAIN_TYPE,
      registers,
      collect() {
        this.reset();
        for (const t of sources.types()) this.inc({ domain: t.domain, type: t.type }, t.retries);
      },
    }),
    troubleshooting: new Counter({
      name: 'dispatchbox_troubleshooting_total',
      help: 'Commands written to the troubleshooting queue (a permanent error, attempts exhausted, no handler).',
      labelNames: DOMAIN_TYPE,
      registers,
      collect() {
        this.reset();
        for (const t of sources.types())
          this.inc({ domain: t.domain, type: t.type }, t.troubleshooting);
      },
    }),
    stale: new Counter({
      name: 'dispatchbox_stale_outcomes_total',
      help: "Outcomes the store refused as late: the lease had expired and another attempt owns the command. 'outcome' is what this worker tried to write.",
      labelNames: ['domain', 'type', 'outcome'] as const,
      registers,
    }),
    leasesRecovered: new Counter({
      name: 'dispatchbox_leases_recovered_total',
      help: "Commands whose lease had expired (their worker died or was cut off) that this process's lease recovery gave back.",
      registers,
    }),
    rateLimited: new Counter({
      name: 'dispatchbox_rate_limited_total',
      help: 'Attempts a rate limit or a global concurrency cap refused (no attempt spent).',
      labelNames: ['domain', 'type', 'reason'] as const,
      registers,
    }),
    batchSize: new Histogram({
      name: 'dispatchbox_batch_size',
      help: 'Commands brought by each claim that found some.',
      labelNames: ['domain'] as const,
      buckets: BATCH_BUCKETS,
      registers,
    }),
    sent: new Counter({
      name: 'dispatchbox_commands_sent_total',
      help: 'Commands stored by this process (send, sendMany, createBatch, ctx.send); repeats of an id or idempotency key left out.',
      labelNames: DOMAIN_TYPE,
      registers,
      collect() {
        this.reset();
        for (const s of sources.sent()) this.inc({ domain: s.domain, type: s.type }, s.sent);
      },
    }),
    sendDuration: new Histogram({
      name: 'dispatchbox_send_duration_seconds',
      help: "From a send's call to the store's acknowledgement that its commands are stored (sends outside an application transaction).",
      buckets: SEND_BUCKETS,
      registers,
    }),
  };
}

export type MetricSet = ReturnType<typeof defineMetrics>;

/**
 * Buckets a rate-limit refusal's reason (which names the limit's key) into a bounded
 * label: the texts are the rate-limit gate's (ratelimit/gate.ts) and the worker's.
 */
export function limitReason(reason: string): LimitReason {
  if (reason.startsWith('concurrency cap')) return 'concurrency_cap';
  if (reason.includes('unavailable')) return 'store_unavailable';
  return 'rate_limit';
}
