import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import pino, { type Logger } from 'pino';
import type { CommandBus } from '../bus/bus.js';
import type { DedupStore } from '../backends/roles/dedup.js';
import { toMillis, type Duration } from '../core/duration.js';
import { ConfigurationError } from '../core/errors.js';
import { validateRetryPolicy, type RetryPolicy } from '../core/retry.js';
import { ConsumerRunner, type RunnerStatus } from './consumer-runner.js';
import { CachedDedup } from './dedup.js';
import { StreamMetrics } from './metrics.js';
import { checkTopicName, StreamProducer } from './producer.js';
import { ReliabilityLayer } from './reliability.js';
import type { StreamTransport } from './transport.js';
import { checkConsume, type CheckedConsume, type ConsumeOptions } from './consume-options.js';

export interface StreamServiceOptions {
  /** The service's name: the envelope's `source`, and the label of its logs. */
  name: string;
  transport: StreamTransport;
  logger?: Logger | undefined;
}

export interface DedupOptions {
  /** How long a handled event id is remembered. Default '24h'. */
  ttl?: Duration | undefined;
  /** Ids kept in memory in front of the store. Default 10,000. */
  localCacheSize?: number | undefined;
}

export interface ErrorHandlingOptions {
  /** Attempts and backoff (in place, before dead-lettering). Default 5 attempts, exponential from 100 ms to 10 s with jitter. */
  retry?: Partial<RetryPolicy> | undefined;
  /**
   * Where a message goes when it cannot be handled: a function of its topic (default
   * `<topic>.dead-letter`), or false to log it and acknowledge it.
   */
  deadLetter?: false | ((topic: string) => string) | undefined;
}

export const DEFAULT_STREAM_RETRY: RetryPolicy = {
  maxAttempts: 5,
  backoff: { type: 'exponential', base: '100ms', max: '10s', jitter: true },
};

export interface ConsumerHealth {
  topics: string[];
  group: string;
  running: boolean;
  lastError: string | null;
  inFlight: number;
}

export interface StreamService {
  readonly name: string;
  readonly metrics: StreamMetrics | null;
  /** The producer (built with `.produce()`); throws a ConfigurationError otherwise. */
  readonly producer: StreamProducer;
  /** Creates the topics, starts the producer, then the consumers. */
  start(): Promise<void>;
  /**
   * Stops the consumers (each acknowledges what its handlers finished, within `graceMs`,
   * default 30 s), then the producer, then closes the transport.
   */
  stop(options?: { graceMs?: number }): Promise<void>;
  /** True while started, connected, and no consumer's last fetch failed. */
  ready(): boolean;
  /** Why it is not ready (for /ready); empty when it is. */
  notReadyReasons(): string[];
  health(): ConsumerHealth[];
}

interface PlannedConsumer {
  options: CheckedConsume;
  runner: ConsumerRunner | null;
  abort: AbortController;
  unwatch: (() => void) | null;
}

/**
 * Composes a stream service from its parts (dedup, error handling, metrics, a bus,
 * consumers and a producer):
 *
 *     const service = streamService({ name: 'billing', transport })
 *       .withDedup(redisDedup(redis), { ttl: '24h' })
 *       .withErrorHandling({ retry: { maxAttempts: 5 } })
 *       .withMetrics()
 *       .consume({ topics: ['orders'], group: 'billing', handler })
 *       .produce()
 *       .build();
 *     await service.start();
 */
export class StreamServiceBuilder {
  private dedup: { store: DedupStore; ttlMs: number } | null = null;
  private retry: RetryPolicy = DEFAULT_STREAM_RETRY;
  private deadLetter: ((topic: string) => string) | null = (topic) => `${topic}.dead-letter`;
  private metrics: StreamMetrics | null = null;
  private bus: CommandBus | null = null;
  private producing = false;
  private readonly consumers: CheckedConsume[] = [];

  constructor(private readonly options: StreamServiceOptions) {
    if (typeof options?.name !== 'string' || options.name.length === 0) {
      throw new ConfigurationError(
        'streamService needs a name: streamService({ name: "billing", transport })',
      );
    }
    if (typeof options.transport?.consumer !== 'function') {
      throw new ConfigurationError(
        'streamService needs a transport: redisStreams(…) from dispatchbox/streams/redis, natsJetStream(…) from dispatchbox/streams/nats or kafkaTransport(…) from dispatchbox/streams/kafka',
      );
    }
  }

  /** Skips events whose id this group already handled (kept for `ttl`). */
  withDedup(store: DedupStore, options: DedupOptions = {}): this {
    if (typeof store?.seenEvents !== 'function' || typeof store.rememberEvents !== 'function') {
      throw new ConfigurationError(
        "withDedup needs a dedup store: redisDedup(client), or a SQL store's (bus.backend.dedup)",
      );
    }
    const cacheSize = options.localCacheSize ?? 10_000;
    this.dedup = {
      store: cacheSize > 0 ? new CachedDedup(store, cacheSize) : store,
      ttlMs: toMillis(options.ttl ?? '24h', 'withDedup ttl'),
    };
    return this;
  }

  withErrorHandling(options: ErrorHandlingOptions = {}): this {
    const retry = { ...DEFAULT_STREAM_RETRY, ...options.retry };
    validateRetryPolicy(retry, 'withErrorHandling retry');
    this.retry = retry;
    if (options.deadLetter !== undefined)
      this.deadLetter = options.deadLetter === false ? null : options.deadLetter;
    return this;
  }

  /** Counts into `metrics` (or new StreamMetrics with a registry of its own). */
  withMetrics(metrics: StreamMetrics = new StreamMetrics()): this {
    this.metrics = metrics;
    return this;
  }

  /** The bus `ctx.send` sends commands on. */
  withBus(bus: CommandBus): this {
    this.bus = bus;
    return this;
  }

  /** Adds a consumer: `handler` for every event on `topics`, as a member of `group`. */
  consume<TData>(options: ConsumeOptions<TData>): this {
    this.consumers.push(checkConsume(options as ConsumeOptions));
    return this;
  }

  /** Gives the service a producer (`service.producer`, `ctx.publish`). */
  produce(): this {
    this.producing = true;
    return this;
  }

  build(): StreamService {
    return new RunningService(this.options, {
      dedup: this.dedup,
      retry: this.retry,
      deadLetter: this.deadLetter,
      metrics: this.metrics,
      bus: this.bus,
      producing: this.producing,
      consumers: [...this.consumers],
    });
  }
}

export function streamService(options: StreamServiceOptions): StreamServiceBuilder {
  return new StreamServiceBuilder(options);
}

interface Plan {
  dedup: { store: DedupStore; ttlMs: number } | null;
  retry: RetryPolicy;
  deadLetter: ((topic: string) => string) | null;
  metrics: StreamMetrics | null;
  bus: CommandBus | null;
  producing: boolean;
  consumers: CheckedConsume[];
}

/** The orchestrator: starts and stops the parts in order. */
class RunningService implements StreamService {
  readonly name: string;
  readonly metrics: StreamMetrics | null;
  private readonly logger: Logger;
  private readonly transport: StreamTransport;
  private readonly planned: PlannedConsumer[];
  private streamProducer: StreamProducer | null = null;
  private state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';

  constructor(
    options: StreamServiceOptions,
    private readonly plan: Plan,
  ) {
    this.name = options.name;
    this.transport = options.transport;
    this.metrics = plan.metrics;
    this.logger = (options.logger ?? pino({ level: 'info' })).child({ service: options.name });
    this.planned = plan.consumers.map((c) => ({
      options: c,
      runner: null,
      abort: new AbortController(),
      unwatch: null,
    }));
  }

  get producer(): StreamProducer {
    if (!this.plan.producing) {
      throw new ConfigurationError('this stream service has no producer: build it with .produce()');
    }
    if (!this.streamProducer)
      throw new ConfigurationError(
        'the stream service is not started: await service.start() first',
      );
    return this.streamProducer;
  }

  async start(): Promise<void> {
    if (this.state !== 'new')
      throw new ConfigurationError(`the stream service was already started (it is ${this.state})`);
    this.state = 'starting';
    const topics = [...new Set(this.planned.flatMap((c) => c.options.topics))];
    const deadLetterTopics = this.plan.deadLetter
      ? topics.map((t) => checkTopicName(this.plan.deadLetter!(t), 'dead-letter topic'))
      : [];
    await this.transport.ensureTopics([...topics, ...deadLetterTopics]);
    // The producer first: the consumers' dead letters and ctx.publish need it.
    if (this.plan.producing || (this.plan.deadLetter && this.planned.length > 0)) {
      this.streamProducer = new StreamProducer(await this.transport.producer(), this.name);
    }
    for (const planned of this.planned) await this.startConsumer(planned);
    this.state = 'running';
    this.logger.info(
      {
        transport: this.transport.kind,
        consumers: this.health().map((h) => `${h.topics.join(',')}@${h.group}`),
      },
      'stream service started',
    );
  }

  private async startConsumer(planned: PlannedConsumer): Promise<void> {
    const o = planned.options;
    const consumer = await this.transport.consumer({
      topics: o.topics,
      group: o.group,
      consumerName: o.consumerName ?? `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`,
      claimIdleMs: o.claimIdleMs,
      startAt: o.startAt,
    });
    const labels = { transport: this.transport.kind, topic: o.topics.join(','), group: o.group };
    const logger = this.logger.child({ group: o.group, topics: o.topics });
    const layer = new ReliabilityLayer({
      labels,
      handler: o.handler,
      retry: o.retry ?? this.plan.retry,
      deadLetter: this.plan.deadLetter,
      producer: this.streamProducer,
      bus: this.plan.bus,
      metrics: this.metrics,
      logger,
      signal: planned.abort.signal,
    });
    planned.runner = new ConsumerRunner({
      consumer,
      layer,
      dedup: this.plan.dedup ? { ...this.plan.dedup, scope: o.group } : null,
      concurrency: o.concurrency,
      maxInFlight: o.maxInFlight,
      batchSize: o.batchSize,
      pollWaitMs: o.pollWaitMs,
      logger,
      abort: planned.abort,
    });
    planned.unwatch =
      this.metrics?.watch({
        labels,
        lag: () => consumer.lag(),
        pending: () => consumer.pending(),
      }) ?? null;
    planned.runner.start();
  }

  async stop(options: { graceMs?: number } = {}): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping') return;
    this.state = 'stopping';
    const graceMs = options.graceMs ?? 30_000;
    await Promise.all(
      this.planned.map(async (p) => {
        await p.runner?.stop(graceMs);
        p.unwatch?.();
      }),
    );
    await this.streamProducer?.close();
    await this.transport.close();
    this.state = 'stopped';
    this.logger.info('stream service stopped');
  }

  ready(): boolean {
    return this.notReadyReasons().length === 0;
  }

  notReadyReasons(): string[] {
    if (this.state !== 'running') return [`stream service ${this.name} is ${this.state}`];
    const reasons = this.transport.connected()
      ? []
      : [`the ${this.transport.kind} transport is not connected`];
    for (const h of this.health()) {
      const name = `consumer ${h.topics.join(',')}@${h.group}`;
      if (!h.running) reasons.push(`${name} is not running`);
      else if (h.lastError !== null) reasons.push(`${name}: ${h.lastError}`);
    }
    return reasons;
  }

  health(): ConsumerHealth[] {
    return this.planned.map((p) => {
      const status: RunnerStatus = p.runner?.status() ?? {
        running: false,
        lastError: null,
        inFlight: 0,
      };
      return { topics: p.options.topics, group: p.options.group, ...status };
    });
  }
}
