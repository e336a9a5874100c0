import type { Logger } from 'pino';
import type { CommandBus } from '../bus/bus.js';
import type { Command, JsonValue } from '../core/command.js';
import { ConfigurationError } from '../core/errors.js';
import type { SendOptions } from '../core/send-options.js';
import type { StreamContext } from './context.js';
import type { EventScope } from './correlation.js';
import type { Envelope } from './envelope.js';
import type { StreamProducer, StreamPublishOptions } from './producer.js';
import type { TransportMessage } from './transport.js';

/** What every context of one consumer shares. */
export interface ContextShared {
  producer: StreamProducer | null;
  bus: CommandBus | null;
  group: string;
  signal: AbortSignal;
  logger: Logger;
}

/**
 * A handler's `ctx`, one per attempt. A class, not an object literal of closures: at tens
 * of thousands of messages a second, four closures a message were a visible share of the
 * garbage collector's work. It is also the event scope (correlation.ts) of the attempt.
 */
export class EventContext implements StreamContext, EventScope {
  readonly eventId: string;
  readonly topic: string;
  readonly deliveryCount: number;
  private sends = 0;
  private childLogger: Logger | undefined;

  constructor(
    private readonly shared: ContextShared,
    message: TransportMessage,
    readonly event: Envelope,
    readonly attempt: number,
    readonly correlationId: string,
  ) {
    this.eventId = event.id;
    this.topic = message.topic;
    this.deliveryCount = message.deliveryCount;
  }

  get group(): string {
    return this.shared.group;
  }

  get signal(): AbortSignal {
    return this.shared.signal;
  }

  /** A child logger costs more than a no-op handler: made on first use. */
  get logger(): Logger {
    return (this.childLogger ??= this.shared.logger.child({
      eventId: this.event.id,
      eventType: this.event.type,
      topic: this.topic,
      group: this.shared.group,
      correlationId: this.correlationId,
    }));
  }

  publish(
    topic: string,
    key: string | null,
    data: JsonValue | object,
    options?: StreamPublishOptions,
  ): Promise<string> {
    const producer = this.shared.producer;
    if (!producer) {
      throw new ConfigurationError(
        'ctx.publish needs a producer: build the stream service with .produce()',
      );
    }
    return producer.publish(topic, key, data, {
      ...options,
      correlationId: options?.correlationId ?? this.correlationId,
      causationId: options?.causationId ?? this.event.id,
    });
  }

  send(
    domain: string,
    type: string,
    data: JsonValue | object,
    options?: SendOptions,
  ): Promise<Command> {
    const bus = this.shared.bus;
    if (!bus) {
      throw new ConfigurationError(
        'ctx.send needs a command bus: build the stream service with .withBus(bus)',
      );
    }
    this.sends += 1;
    const id = this.event.id;
    return bus.send(domain, type, data, {
      ...options,
      idempotencyKey: options?.idempotencyKey ?? (this.sends === 1 ? id : `${id}:${this.sends}`),
      correlationId: options?.correlationId ?? this.correlationId,
      headers: { 'event-id': id, ...this.event.headers, ...options?.headers },
    });
  }
}
