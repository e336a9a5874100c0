import type { JsonValue } from '../core/command.js';
import { checkTopic } from '../bus/publish.js';
import { ValidationError } from '../core/errors.js';
import { checkHeaders } from '../core/headers.js';
import { uuidv7 } from '../core/ids.js';
import { toJsonText } from '../core/json.js';
import { toOutgoing } from './codec.js';
import { currentEvent } from './correlation.js';
import type { Envelope } from './envelope.js';
import type { TransportProducer } from './transport.js';

export interface StreamPublishOptions {
  /** The event type; default the topic. */
  type?: string | undefined;
  headers?: Record<string, string> | undefined;
  /** Default: the correlation id of the stream event being handled, if any. */
  correlationId?: string | undefined;
  /** Default: the id of the stream event being handled, if any. */
  causationId?: string | undefined;
  /** A UUID chosen by the caller (a retried publish keeps its id); default a new UUIDv7. */
  id?: string | undefined;
}

/** The topic's name checked as bus.publish checks it; returned for chaining. */
export function checkTopicName(topic: unknown, path = 'topic'): string {
  checkTopic(topic, path);
  return topic;
}

function checkKey(key: unknown): string | null {
  if (key === null) return null;
  if (typeof key !== 'string' || key.length === 0 || key.length > 1024) {
    throw new ValidationError(
      `key must be null or 1 to 1,024 characters of text (events of one key keep their order); got ${typeof key === 'string' ? `${key.length} characters` : typeof key}`,
      'key',
    );
  }
  return key;
}

/**
 * Writes events to streams, each wrapped in an envelope (a UUIDv7 id, type, time, source
 * and correlation) and acknowledged by the server before `publish` resolves. Inside a
 * stream handler the new event inherits the handled event's correlation id and names it
 * as its cause.
 */
export class StreamProducer {
  constructor(
    private readonly producer: TransportProducer,
    private readonly source: string,
  ) {}

  /** Publishes one event and resolves with its id once the server has it. */
  async publish(
    topic: string,
    key: string | null,
    data: JsonValue | object,
    options: StreamPublishOptions = {},
  ): Promise<string> {
    const envelope = this.envelope(topic, key, data, options);
    await this.producer.send([toOutgoing(topic, envelope)]);
    return envelope.id;
  }

  /** Writes envelopes made elsewhere (the outbox relay's), in order, ids unchanged. */
  async sendEnvelopes(items: { topic: string; envelope: Envelope }[]): Promise<void> {
    if (items.length === 0) return;
    await this.producer.send(items.map(({ topic, envelope }) => toOutgoing(topic, envelope)));
  }

  /** Builds the envelope of a publish, checking every input (nothing is sent on an error). */
  envelope(
    topic: string,
    key: string | null,
    data: JsonValue | object,
    options: StreamPublishOptions = {},
  ): Envelope {
    checkTopic(topic);
    const scope = currentEvent();
    // Checked here so a value JSON would change or drop is refused before anything is sent.
    toJsonText(data, 'data');
    return {
      id: options.id ?? uuidv7(),
      type: options.type ?? topic,
      time: new Date().toISOString(),
      source: this.source,
      key: checkKey(key),
      correlationId: options.correlationId ?? scope?.correlationId ?? null,
      causationId: options.causationId ?? scope?.eventId ?? null,
      headers: checkHeaders(options.headers) ?? {},
      data: data as JsonValue,
    };
  }

  close(): Promise<void> {
    return this.producer.close();
  }
}
