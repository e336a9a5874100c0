import type { Queryable } from '../../core/queryable.js';

/**
 * The outbox role: events written in the application's transaction (`bus.publish(topic,
 * key, data, { tx })`) and handed to a relay that delivers them to a stream. An event
 * exists only if its transaction commits; the relay delivers each at least once, in the
 * order of `seq` per key, and under the same `id` every time, so consumers deduplicate.
 * Kept by the SQL stores (PostgreSQL, the embedded database): the Redis store has no
 * application transaction to join and leaves this role out.
 */

/** An event as `bus.publish` writes it. */
export interface NewOutboxEvent {
  /** UUIDv7: the event id, the same on every delivery. */
  id: string;
  topic: string;
  /** The ordering key: events of one key are delivered in the order they were written. */
  key: string;
  type: string;
  /** The event's data as JSON text. */
  dataJson: string;
  headers: Record<string, string> | null;
  correlationId: string | null;
  causationId: string | null;
  createdAt: Date;
}

/** An event waiting in the outbox, as a relay reads it. */
export interface OutboxEvent extends NewOutboxEvent {
  /** Write order, increasing: the relay delivers one key's events in this order. */
  seq: string;
  /** Deliveries tried before this one (0 on the first). */
  attempts: number;
}

export interface OutboxClaim {
  /** Oldest first (by seq). Empty when nothing waits. */
  events: OutboxEvent[];
}

export interface OutboxStats {
  /** Events written and not yet delivered. */
  pending: number;
  /** When the oldest of them was written; null when none wait. */
  oldestCreatedAt: Date | null;
}

export interface OutboxStore {
  /** Writes events; with `tx`, inside the application's transaction (visible on commit). */
  appendEvents(events: NewOutboxEvent[], tx?: Queryable): Promise<void>;
  /**
   * Takes or extends the relay lease of `relayId` for `leaseMs` and reads up to `limit`
   * waiting events, oldest first. Null when another relay holds an unexpired lease: one
   * relay delivers at a time, which is what keeps the order per key.
   */
  claimEvents(params: {
    relayId: string;
    leaseMs: number;
    limit: number;
  }): Promise<OutboxClaim | null>;
  /** Removes delivered events; refused (false) when `relayId` no longer holds the lease. */
  markDelivered(params: { relayId: string; seqs: string[] }): Promise<boolean>;
  /** Counts a failed delivery of these events (their `attempts` goes up by one). */
  markFailed(params: { relayId: string; seqs: string[] }): Promise<void>;
  /** Lets the lease go (a relay stopping), so another relay takes over at once. */
  releaseLease(relayId: string): Promise<void>;
  stats(): Promise<OutboxStats>;
}
