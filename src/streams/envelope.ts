import type { JsonValue } from '../core/command.js';

/**
 * What travels on a stream: the event's data wrapped with what every consumer needs to
 * deduplicate (`id`), route (`type`), trace (`correlationId`, `causationId`) and audit
 * (`time`, `source`). Written as JSON; the same on Redis, NATS and Kafka.
 */
export interface Envelope<TData = JsonValue> {
  /** UUIDv7, set once by the producer (or the outbox) and the same on every delivery. */
  id: string;
  type: string;
  /** ISO 8601 time the event was made. */
  time: string;
  /** The service that made it. */
  source: string;
  /** The ordering key it was written under; null when it had none. */
  key: string | null;
  correlationId: string | null;
  /** The event or command that caused this one. */
  causationId: string | null;
  headers: Record<string, string>;
  data: TData;
}
