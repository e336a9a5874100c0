/**
 * `bus.publish`: an event written to the store's outbox, in the application's transaction
 * when given one, for the outbox relay to deliver to its stream. Everything is checked
 * before the store is touched: a ValidationError names the field and stores nothing.
 */
import { atItem, payloadJson } from './prepare.js';
import type { Backend, NewOutboxEvent, OutboxStore } from '../backends/backend.js';
import { ConfigurationError, ValidationError } from '../core/errors.js';
import { checkHeaders } from '../core/headers.js';
import { isUuid, uuidv7 } from '../core/ids.js';
import { checkStorableText } from '../core/json.js';
import { lazySchema, parseOrRefuse } from '../core/lazy-zod.js';
import type { Queryable } from '../core/queryable.js';

export interface PublishOptions {
  /** The application's open transaction: the event exists only if it commits. */
  tx?: Queryable | undefined;
  /** What happened, for consumers to dispatch on (1 to 255 characters). Default: the topic. */
  type?: string | undefined;
  /** Text carried with the event, checked as a command's headers are (HEADER_LIMITS). */
  headers?: Record<string, string> | undefined;
  /** 1 to 255 characters; none when left out. */
  correlationId?: string | undefined;
  /** The id of what caused this event (a command, another event): 1 to 255 characters. */
  causationId?: string | undefined;
  /** A caller-chosen UUID; a repeat while the first is still in the outbox stores nothing. */
  id?: string | undefined;
}

/** One event of `publishMany`. */
export interface PublishItem extends Omit<PublishOptions, 'tx'> {
  topic: string;
  key: string;
  data: unknown;
}

/** What `publish` returns: the event's id, the same on every delivery of it. */
export interface PublishedEvent {
  id: string;
  topic: string;
  key: string;
}

/**
 * Topic names every transport takes as they are: Kafka allows [a-zA-Z0-9._-] and 249
 * characters; NATS subjects refuse spaces, '*' and '>'; Redis keys take anything. ':' is
 * allowed as well, as Redis stream names use it (`resources:commands`): NATS subjects take
 * it, Kafka topics do not, so the Kafka transport has to map or refuse it.
 */
export const TOPIC_PATTERN = /^[A-Za-z0-9._:-]{1,249}$/;
export const MAX_EVENT_KEY_LENGTH = 1024;

/** What publishing needs of its bus. */
export interface Publisher {
  backend: Backend;
  /** Largest payload accepted, in bytes of JSON (the bus's maxPayloadBytes). */
  maxPayloadBytes: number;
}

const optionsSchema = lazySchema((z) => {
  const text = z.string().min(1).max(255);
  return z.strictObject({
    type: text.optional(),
    // checked by checkHeaders, whose errors name the header and the limit
    headers: z.unknown().optional(),
    correlationId: text.optional(),
    causationId: text.optional(),
    id: z.string().refine(isUuid, 'must be a UUID').optional(),
  });
});

/** Writes one event to the outbox; with `options.tx`, in that transaction. */
export async function publish(
  bus: Publisher,
  topic: string,
  key: string,
  data: unknown,
  options: PublishOptions = {},
): Promise<PublishedEvent> {
  const outbox = outboxOf(bus.backend);
  if (typeof options !== 'object' || options === null) {
    throw new ValidationError(
      `options must be an object of publish options, or left out; got ${options === null ? 'null' : typeof options}`,
      'options',
    );
  }
  const { tx, ...rest } = options;
  checkTx(tx);
  const event = prepareEvent(bus, { ...rest, topic, key, data });
  await outbox.appendEvents([event], tx);
  return { id: event.id, topic: event.topic, key: event.key };
}

/** Writes many events in one statement: all are stored, or (on error) none. */
export async function publishMany(
  bus: Publisher,
  items: PublishItem[],
  options: { tx?: Queryable | undefined } = {},
): Promise<PublishedEvent[]> {
  const outbox = outboxOf(bus.backend);
  if (!Array.isArray(items)) {
    throw new ValidationError('publishMany takes an array of { topic, key, data, ...options }');
  }
  if (typeof options !== 'object' || options === null) {
    throw new ValidationError('options must be { tx } or left out', 'options');
  }
  checkTx(options.tx);
  if (items.length === 0) return [];
  const events = items.map((item, i) => prepareEvent(bus, item, `[${i}]`));
  await outbox.appendEvents(events, options.tx);
  return events.map((e) => ({ id: e.id, topic: e.topic, key: e.key }));
}

function outboxOf(backend: Backend): OutboxStore {
  if (backend.outbox) return backend.outbox;
  throw new ConfigurationError(
    `bus.publish writes to an outbox in the application's transaction, and the ${backend.kind} store has none: ` +
      (backend.kind === 'redis'
        ? "the Redis store cannot join the application's transaction. "
        : 'it does not implement the outbox role. ') +
      'Use PostgreSQL or the embedded store, or publish with a stream producer (dispatchbox/streams) instead.',
  );
}

function checkTx(tx: unknown): void {
  if (tx !== undefined && typeof (tx as Queryable | null)?.query !== 'function') {
    throw new ValidationError(
      "tx: must be the application's open transaction (a client with a query() method)",
      'tx',
    );
  }
}

/** Checks one event and returns it as the outbox stores it; `where` prefixes errors (`[3]`). */
function prepareEvent(bus: Publisher, item: PublishItem, where = ''): NewOutboxEvent {
  try {
    if (typeof item !== 'object' || item === null) {
      throw new ValidationError(
        `an event to publish must be an object { topic, key, data, ...options }; got ${item === null ? 'null' : typeof item}`,
      );
    }
    const { topic, key, data, ...options } = item;
    checkTopic(topic);
    checkKey(key);
    const o = parseOptions(options);
    const dataJson = payloadJson(data, bus.maxPayloadBytes);
    return {
      id: o.id?.toLowerCase() ?? uuidv7(),
      topic,
      key,
      type: o.type ?? topic,
      dataJson,
      headers: o.headers ?? null,
      correlationId: o.correlationId ?? null,
      causationId: o.causationId ?? null,
      createdAt: new Date(),
    };
  } catch (error) {
    throw atItem(error, where);
  }
}

/** Refuses a topic name some transport would not take (TOPIC_PATTERN), naming `path`. */
export function checkTopic(topic: unknown, path = 'topic'): asserts topic is string {
  if (typeof topic !== 'string' || !TOPIC_PATTERN.test(topic)) {
    throw new ValidationError(
      `${path} must be 1 to 249 characters of letters, digits, '.', '_', ':' or '-' (names every stream transport accepts); got ${JSON.stringify(topic)}`,
      path,
    );
  }
}

function checkKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_EVENT_KEY_LENGTH) {
    throw new ValidationError(
      `key must be text of 1 to ${MAX_EVENT_KEY_LENGTH} characters (the ordering key: events of one key are delivered in order); got ${typeof key === 'string' ? `${key.length} characters` : typeof key}`,
      'key',
    );
  }
  checkStorableText(key, 'key');
}

type ParsedOptions = Omit<PublishOptions, 'headers' | 'tx'> & {
  headers?: Record<string, string>;
};

function parseOptions(options: Omit<PublishItem, 'topic' | 'key' | 'data'>): ParsedOptions {
  const data = parseOrRefuse(optionsSchema(), options);
  const { headers, ...o } = data;
  for (const field of ['type', 'correlationId', 'causationId'] as const) {
    const value = o[field];
    if (value !== undefined) checkStorableText(value, field);
  }
  const checked = checkHeaders(headers);
  return checked === null ? o : { ...o, headers: checked };
}
