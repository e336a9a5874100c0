import type { Logger } from 'pino';
import type { CommandBus } from '../bus/bus.js';
import { describeError } from '../core/describe-error.js';
import { decideFailure, type RetryPolicy } from '../core/retry.js';
import type { StreamHandler } from './context.js';
import { EventContext, type ContextShared } from './handler-context.js';
import { withEventScope } from './correlation.js';
import type { Envelope } from './envelope.js';
import type { BoundStreamMetrics, StreamLabels, StreamMetrics } from './metrics.js';
import type { StreamProducer } from './producer.js';
import type { TransportMessage } from './transport.js';

/** What became of a message: acknowledge it, or leave it for redelivery ('stopped'). */
export type Outcome = 'handled' | 'dead-lettered' | 'dropped' | 'stopped';

export interface ReliabilityOptions {
  labels: StreamLabels;
  handler: StreamHandler;
  retry: RetryPolicy;
  /** The dead-letter topic of a topic; null: a message that cannot be handled is logged and acknowledged. */
  deadLetter: ((topic: string) => string) | null;
  producer: StreamProducer | null;
  bus: CommandBus | null;
  metrics: StreamMetrics | null;
  logger: Logger;
  /** Aborted when the service's shutdown time runs out: waiting retries give up. */
  signal: AbortSignal;
  random?: () => number;
}

/**
 * The reliability layer around a business handler: correlation context, retries with
 * backoff, dead-lettering and metrics, the same on every transport. Deduplication and
 * acknowledgement are the runner's (consumer-runner.ts): they are done per batch.
 *
 * Retries happen here, in place, rather than by redelivery: the order of one key's
 * messages holds (the next waits for this one), and a crash mid-retry only restarts the
 * count, since the message was never acknowledged.
 */
export class ReliabilityLayer {
  private readonly metrics: BoundStreamMetrics | null;
  private readonly shared: ContextShared;

  constructor(private readonly options: ReliabilityOptions) {
    this.metrics = options.metrics?.bind(options.labels) ?? null;
    const { producer, bus, labels, signal, logger } = options;
    this.shared = { producer, bus, group: labels.group, signal, logger };
  }

  /** Counts a message skipped because its event id was already handled. */
  countDuplicate(): void {
    this.metrics?.dedupHits.inc();
  }

  /** Runs the handler until it succeeds, the message is dead-lettered, or shutdown gives up. */
  async process(message: TransportMessage, envelope: Envelope | Error): Promise<Outcome> {
    const metrics = this.metrics;
    if (envelope instanceof Error) return this.deadLetter(message, null, envelope, 0);
    const started = performance.now();
    for (let attempt = 1; ; attempt++) {
      if (this.options.signal.aborted) return 'stopped';
      try {
        await this.attempt(message, envelope, attempt);
        metrics?.handled.inc();
        metrics?.processing.observe((performance.now() - started) / 1000);
        return 'handled';
      } catch (error) {
        metrics?.failedAttempts.inc();
        const decision = decideFailure(
          error,
          attempt,
          this.options.retry.maxAttempts,
          this.options.retry,
          this.options.random,
        );
        if (decision.kind === 'troubleshoot') {
          return this.deadLetter(message, envelope, error, attempt);
        }
        metrics?.retried.inc();
        this.options.logger.warn(
          {
            eventId: envelope.id,
            topic: message.topic,
            attempt,
            delayMs: decision.delayMs,
            err: describeError(error),
          },
          'stream handler failed; retrying after a backoff',
        );
        if (!(await pause(decision.delayMs, this.options.signal))) return 'stopped';
      }
    }
  }

  /**
   * One call of the handler, as a promise whether it returns one, a value or throws. Called
   * at once rather than in a .then (two promises fewer a message).
   */
  private attempt(
    message: TransportMessage,
    envelope: Envelope,
    attempt: number,
  ): Promise<unknown> {
    try {
      const ctx = new EventContext(
        this.shared,
        message,
        envelope,
        attempt,
        envelope.correlationId ?? envelope.id,
      );
      return Promise.resolve(withEventScope(ctx, () => this.options.handler(envelope.data, ctx)));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private async deadLetter(
    message: TransportMessage,
    envelope: Envelope | null,
    error: unknown,
    attempts: number,
  ): Promise<Outcome> {
    const { deadLetter, producer, labels, logger } = this.options;
    const described = describeError(error);
    const fields = {
      topic: message.topic,
      position: message.position,
      eventId: envelope?.id,
      attempts,
      err: described,
    };
    if (!deadLetter || !producer) {
      logger.error(
        fields,
        'stream message could not be handled and has no dead-letter topic: acknowledged and dropped',
      );
      return 'dropped';
    }
    const target = deadLetter(message.topic);
    const headers = {
      ...(envelope?.headers ?? message.headers),
      'dead-letter-topic': message.topic,
      'dead-letter-group': labels.group,
      'dead-letter-position': message.position,
      'dead-letter-attempts': String(attempts),
      'dead-letter-error-code': described.code,
      'dead-letter-error-message': described.message.slice(0, 4000),
    };
    const letter: Envelope = envelope
      ? { ...envelope, headers }
      : producer.envelope(
          target,
          message.key,
          { value: message.value },
          {
            type: 'dispatchbox.unreadable',
            headers,
          },
        );
    // The letter must be written before the message is acknowledged: retried until it is,
    // or until shutdown (then the message is left for redelivery).
    for (let tries = 1; ; tries++) {
      try {
        await producer.sendEnvelopes([{ topic: target, envelope: letter }]);
        break;
      } catch (writeError) {
        logger.warn(
          { ...fields, deadLetterTopic: target, tries, writeErr: describeError(writeError) },
          'could not write the dead letter; trying again',
        );
        if (!(await pause(Math.min(5000, 100 * 2 ** Math.min(tries, 6)), this.options.signal)))
          return 'stopped';
      }
    }
    this.metrics?.deadLettered.inc();
    logger.error({ ...fields, deadLetterTopic: target }, 'stream message dead-lettered');
    return 'dead-lettered';
  }
}

/** Waits `ms`; false when `signal` fired first. */
export function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
