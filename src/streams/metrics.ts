import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Seconds; from a no-op handler (sub-millisecond) to a slow external call. */
const PROCESSING_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30];

/** Labels of every stream metric: which transport, topic and consumer group. */
export interface StreamLabels {
  transport: string;
  topic: string;
  group: string;
}

/** What an outbox's stats read gives the gauges. */
interface OutboxStatsRead {
  pending: number;
  oldestCreatedAt: Date | null;
}

/** One consumer's metrics, their labels bound once: prom-client hashes a label set at each labelled call. */
export interface BoundStreamMetrics {
  handled: { inc(): void };
  retried: { inc(): void };
  deadLettered: { inc(): void };
  dedupHits: { inc(): void };
  failedAttempts: { inc(): void };
  processing: { observe(seconds: number): void };
}

/** What a consumer reports on a scrape: read from the transport when /metrics is asked. */
export interface LagSource {
  labels: StreamLabels;
  lag(): Promise<number | null>;
  pending(): Promise<number | null>;
}

/**
 * The Prometheus metrics of stream consumers, all `dispatchbox_stream_…`: handled,
 * retried, dead-lettered, deduplicated, failed attempts, processing time, and the lag and
 * pending entries read from the server at each scrape (docs/streams.md lists them).
 */
export class StreamMetrics {
  readonly registry: Registry;
  readonly handled: Counter<keyof StreamLabels>;
  readonly retried: Counter<keyof StreamLabels>;
  readonly deadLettered: Counter<keyof StreamLabels>;
  readonly dedupHits: Counter<keyof StreamLabels>;
  readonly failedAttempts: Counter<keyof StreamLabels>;
  readonly processing: Histogram<keyof StreamLabels>;
  readonly relayed: Counter<'transport' | 'topic'>;
  private readonly sources = new Set<LagSource>();
  private readonly outboxes = new Set<
    () => Promise<{ pending: number; oldestCreatedAt: Date | null }>
  >();

  constructor(registry: Registry = new Registry()) {
    this.registry = registry;
    const labelNames = ['transport', 'topic', 'group'] as const;
    const registers = [registry];
    this.handled = new Counter({
      name: 'dispatchbox_stream_messages_handled_total',
      help: 'Stream messages whose handler succeeded and that were acknowledged.',
      labelNames,
      registers,
    });
    this.retried = new Counter({
      name: 'dispatchbox_stream_messages_retried_total',
      help: 'Handler attempts that failed and were tried again after a backoff.',
      labelNames,
      registers,
    });
    this.deadLettered = new Counter({
      name: 'dispatchbox_stream_messages_dead_lettered_total',
      help: 'Messages written to the dead-letter topic (retries exhausted, a permanent error, or not an envelope).',
      labelNames,
      registers,
    });
    this.dedupHits = new Counter({
      name: 'dispatchbox_stream_dedup_hits_total',
      help: 'Messages acknowledged without running the handler: their event id was already handled.',
      labelNames,
      registers,
    });
    this.failedAttempts = new Counter({
      name: 'dispatchbox_stream_handler_errors_total',
      help: 'Handler attempts that threw (each retry counts).',
      labelNames,
      registers,
    });
    this.processing = new Histogram({
      name: 'dispatchbox_stream_processing_seconds',
      help: 'How long a message took from the start of its first attempt to its acknowledgement.',
      labelNames,
      buckets: PROCESSING_BUCKETS,
      registers,
    });
    this.relayed = new Counter({
      name: 'dispatchbox_outbox_events_relayed_total',
      help: 'Outbox events delivered to their stream by the relay.',
      labelNames: ['transport', 'topic'],
      registers,
    });
    const sources = this.sources;
    const outboxes = this.outboxes;
    // Both outbox gauges are collected in one scrape: they share one read of the stats (a
    // count over the outbox) made within the last second, instead of a query each.
    let lastRead: { at: number; stats: Promise<OutboxStatsRead[]> } | null = null;
    const readOutboxes = () => {
      if (lastRead && performance.now() - lastRead.at < 1000) return lastRead.stats;
      const stats = Promise.all([...outboxes].map((read) => read().catch(() => null))).then((all) =>
        all.filter((s) => s !== null),
      );
      lastRead = { at: performance.now(), stats };
      return stats;
    };
    new Gauge({
      name: 'dispatchbox_outbox_pending',
      help: 'Outbox events written and not yet delivered by the relay (read at scrape).',
      registers,
      async collect() {
        const all = await readOutboxes();
        this.set(all.reduce((n, s) => n + s.pending, 0));
      },
    });
    new Gauge({
      name: 'dispatchbox_outbox_lag_seconds',
      help: 'Age of the oldest outbox event not yet delivered; 0 when none wait (read at scrape).',
      registers,
      async collect() {
        const oldest = (await readOutboxes()).map(
          (s) => s.oldestCreatedAt?.getTime() ?? Date.now(),
        );
        this.set(oldest.length === 0 ? 0 : Math.max(0, (Date.now() - Math.min(...oldest)) / 1000));
      },
    });
    new Gauge({
      name: 'dispatchbox_stream_lag',
      help: 'Messages on the topic not yet done by the group (read from the server at scrape).',
      labelNames,
      registers,
      async collect() {
        this.reset();
        for (const source of sources) {
          const value = await source.lag().catch(() => null);
          if (value !== null) this.set(source.labels, value);
        }
      },
    });
    new Gauge({
      name: 'dispatchbox_stream_pending',
      help: 'Messages handed out to the group and not yet acknowledged (read from the server at scrape).',
      labelNames,
      registers,
      async collect() {
        this.reset();
        for (const source of sources) {
          const value = await source.pending().catch(() => null);
          if (value !== null) this.set(source.labels, value);
        }
      },
    });
  }

  /** The metrics of one consumer, with its labels bound. */
  bind(labels: StreamLabels): BoundStreamMetrics {
    return {
      handled: this.handled.labels(labels),
      retried: this.retried.labels(labels),
      deadLettered: this.deadLettered.labels(labels),
      dedupHits: this.dedupHits.labels(labels),
      failedAttempts: this.failedAttempts.labels(labels),
      processing: this.processing.labels(labels),
    };
  }

  /** Reads an outbox's waiting events and the age of the oldest at each scrape. */
  watchOutbox(stats: () => Promise<{ pending: number; oldestCreatedAt: Date | null }>): () => void {
    this.outboxes.add(stats);
    return () => this.outboxes.delete(stats);
  }

  /** Reads this consumer's lag and pending count at each scrape; returns a function that stops. */
  watch(source: LagSource): () => void {
    this.sources.add(source);
    return () => this.sources.delete(source);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
