import type { Logger } from 'pino';
import type { Command, JsonValue } from '../core/command.js';
import type { SendOptions } from '../core/send-options.js';
import type { Envelope } from './envelope.js';
import type { StreamPublishOptions } from './producer.js';

/** What a stream handler gets besides the event's data. */
export interface StreamContext {
  /** The whole envelope: id, type, time, source, key, correlation and headers. */
  readonly event: Envelope;
  readonly topic: string;
  readonly group: string;
  /** 1 for the first attempt in this process; retries count up. */
  readonly attempt: number;
  /** How many times the server has handed this message out (1 the first time). */
  readonly deliveryCount: number;
  /** The event's correlation id, or its own id when it came without one. */
  readonly correlationId: string;
  /** Fired when the service stops and its shutdown time runs out. */
  readonly signal: AbortSignal;
  /** A pino logger bound to the event id, type, topic, group and correlation id. */
  readonly logger: Logger;
  /**
   * Publishes an event that carries this one's correlation id and names it as cause. Needs
   * the service built with `.produce()`.
   */
  publish(
    topic: string,
    key: string | null,
    data: JsonValue | object,
    options?: StreamPublishOptions,
  ): Promise<string>;
  /**
   * Sends a command on the bus given to `.withBus(bus)`, with this event's correlation id
   * and an idempotency key made from the event id, so a redelivered event never makes a
   * second command. The n-th send of a handler gets key `<event id>` (n = 1) or
   * `<event id>:<n>`; pass `idempotencyKey` to choose your own.
   */
  send(
    domain: string,
    type: string,
    data: JsonValue | object,
    options?: SendOptions,
  ): Promise<Command>;
}

/** A business handler: a plain function of the event's data; it never sees the transport. */
export type StreamHandler<TData = JsonValue> = (data: TData, ctx: StreamContext) => unknown;
