import type { Logger } from 'pino';
import type { CommandBus } from '../bus/bus.js';
import type { Command, JsonValue } from '../core/command.js';
import { describeError } from '../core/describe-error.js';
import { ConfigurationError } from '../core/errors.js';
import { decideFailure, type RetryPolicy } from '../core/retry.js';
import type { SendOptions } from '../core/send-options.js';
import type { StreamContext, StreamHandler } from './context.js';
import { withEventScope } from './correlation.js';
import type { Envelope } from './envelope.js';
import type { StreamLabels, StreamMetrics } from './metrics.js';
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
  constructor(private readonly options: ReliabilityOptions) {}

  /** Counts a message skipped because its event id was already handled. */
  countDuplicate(): void {
    this.options.metrics?.dedupHits.inc(this.options.labels);
  }

  /** Runs the handler until it succeeds, the message is dead-lettered, or shutdown gives up. */
  async process(message: TransportMessage, envelope: Envelope | Error): Promise<Outcome> {
    const { labels, metrics } = this.options;
    if (envelope instanceof Error) return this.deadLetter(message, null, envelope, 0);
    const started = performance.now();
    for (let attempt = 1; ; attempt++) {
      if (this.options.signal.aborted) return 'stopped';
      try {
        await this.attempt(message, envelope, attempt);
        metrics?.handled.inc(labels);
        metrics?.processing.observe(labels, (performance.now() - started) / 1000);
        return 'handled';
      } catch (error) {
        metrics?.failedAttempts.inc(labels);
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
        metrics?.retried.inc(labels);
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
    const correlationId = envelope.correlationId ?? envelope.id;
    try {
      const ctx = this.context(message, envelope, attempt, correlationId);
      return Promise.resolve(
        withEventScope({ eventId: envelope.id, correlationId }, () =>
          this.options.handler(envelope.data, ctx),
        ),
      );
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private context(
    message: TransportMessage,
    envelope: Envelope,
    attempt: number,
    correlationId: string,
  ): StreamContext {
    const { producer, bus, labels, signal } = this.options;
    const baseLogger = this.options.logger;
    let logger: Logger | undefined;
    let sends = 0;
    return {
      event: envelope,
      topic: message.topic,
      group: labels.group,
      attempt,
      deliveryCount: message.deliveryCount,
      correlationId,
      signal,
      // A child logger per message costs more than a no-op handler: made on first use.
      get logger() {
        return (logger ??= baseLogger.child({
          eventId: envelope.id,
          eventType: envelope.type,
          topic: message.topic,
          group: labels.group,
          correlationId,
        }));
      },
      publish: (topic, key, data, options) => {
        if (!producer) {
          throw new ConfigurationError(
            'ctx.publish needs a producer: build the stream service with .produce()',
          );
        }
        return producer.publish(topic, key, data, {
          ...options,
          correlationId: options?.correlationId ?? correlationId,
          causationId: options?.causationId ?? envelope.id,
        });
      },
      send: (
        domain: string,
        type: string,
        data: JsonValue | object,
        options?: SendOptions,
      ): Promise<Command> => {
        if (!bus) {
          throw new ConfigurationError(
            'ctx.send needs a command bus: build the stream service with .withBus(bus)',
          );
        }
        sends += 1;
        return bus.send(domain, type, data, {
          ...options,
          idempotencyKey:
            options?.idempotencyKey ?? (sends === 1 ? envelope.id : `${envelope.id}:${sends}`),
          correlationId: options?.correlationId ?? correlationId,
          headers: { 'event-id': envelope.id, ...envelope.headers, ...options?.headers },
        });
      },
    };
  }

  private async deadLetter(
    message: TransportMessage,
    envelope: Envelope | null,
    error: unknown,
    attempts: number,
  ): Promise<Outcome> {
    const { deadLetter, producer, metrics, labels, logger } = this.options;
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
    metrics?.deadLettered.inc(labels);
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
