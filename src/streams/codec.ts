import { ValidationError } from '../core/errors.js';
import { lazySchema } from '../core/lazy-zod.js';
import type { Envelope } from './envelope.js';
import type { OutgoingMessage, TransportMessage } from './transport.js';

/** The transport header that carries the event id beside the envelope (for tooling that reads headers only). */
export const EVENT_ID_HEADER = 'event-id';

const envelopeSchema = lazySchema((z) =>
  z.object({
    id: z.string().min(1).max(255),
    type: z.string().min(1).max(255),
    time: z.string().min(1),
    source: z.string(),
    key: z.string().nullable(),
    correlationId: z.string().nullable(),
    causationId: z.string().nullable(),
    headers: z.record(z.string(), z.string()),
    data: z.unknown(),
  }),
);

/** The message a producer writes for an envelope. */
export function toOutgoing(topic: string, envelope: Envelope): OutgoingMessage {
  return {
    topic,
    key: envelope.key,
    value: JSON.stringify(envelope),
    headers: { ...envelope.headers, [EVENT_ID_HEADER]: envelope.id },
    id: envelope.id,
  };
}

/**
 * The envelope a message carries. Throws a ValidationError that says what is wrong when
 * the message is not an envelope (not JSON, or a field missing): such a message can never
 * be handled, so the reliability layer dead-letters it at once instead of retrying.
 */
export function readEnvelope(message: TransportMessage): Envelope {
  let parsed: unknown;
  try {
    parsed = JSON.parse(message.value);
  } catch {
    throw new ValidationError(
      `the message at ${message.topic} ${message.position} is not JSON; producers must write a Dispatchbox envelope ({ id, type, time, source, key, correlationId, causationId, headers, data })`,
      'value',
    );
  }
  const result = envelopeSchema().safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0];
    const field = issue?.path.join('.') || 'value';
    throw new ValidationError(
      `the message at ${message.topic} ${message.position} is not a Dispatchbox envelope: ${field}: ${issue?.message ?? 'invalid'}`,
      field,
    );
  }
  // zod's parse made a new object already (unknown fields dropped): no second copy
  return result.data as Envelope;
}
