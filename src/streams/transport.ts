/**
 * The transport contract: what a stream service needs of Redis Streams, NATS JetStream or
 * Kafka, and nothing more. A transport moves opaque text between topics; the envelope,
 * deduplication, retries, dead-lettering, correlation and metrics are written once above
 * it (reliability.ts), so a business handler never sees which transport carried its event.
 *
 * A transport implementation must pass test/helpers/stream-conformance.ts.
 */

/** A message to write. The transport keeps the order of one key's messages. */
export interface OutgoingMessage {
  topic: string;
  /**
   * The ordering key: Kafka's message key (one partition per key), the subject suffix on
   * JetStream (`<topic>.<key>`), a field on Redis (one stream per topic keeps its order).
   */
  key: string | null;
  /** The envelope as JSON text. */
  value: string;
  /** Transport headers (Kafka headers, NATS headers, Redis fields). */
  headers: Record<string, string>;
  /**
   * The event id: JetStream's `Nats-Msg-Id` (the server drops a second publish of it
   * within its duplicate window); a header elsewhere.
   */
  id: string;
}

/** A message read from a topic, not yet acknowledged. */
export interface TransportMessage {
  topic: string;
  key: string | null;
  value: string;
  headers: Record<string, string>;
  /** Where it is, for logs: `<partition>:<offset>` on Kafka, the entry id on Redis, the stream sequence on NATS. */
  position: string;
  /** How many times the server has handed this message out, this one included (1 when first). */
  deliveryCount: number;
  /**
   * Messages with the same order key are handled one after the other, in the order read:
   * the partition on Kafka, the stream on Redis, the subject on NATS, refined by the key.
   */
  orderKey: string;
}

export interface ConsumerOptions {
  /** Topics (Redis streams, JetStream subjects' topics, Kafka topics) to read. */
  topics: string[];
  /** The consumer group (Kafka group id, Redis consumer group, JetStream durable name). */
  group: string;
  /** This member's name in the group (unique per process): hostname-pid-random by default. */
  consumerName: string;
  /**
   * How long a message may stay handed out and unacknowledged before another member of
   * the group may take it (Redis XAUTOCLAIM min-idle, JetStream ack wait). Kafka hands
   * a partition over on rebalance instead and ignores this.
   */
  claimIdleMs: number;
  /** Where a new group starts: 'earliest' (default) or 'latest'. */
  startAt: 'earliest' | 'latest';
}

export interface TransportConsumer {
  /**
   * Up to `max` messages, waiting at most `waitMs` for the first. Resolves [] when none
   * came or the consumer is closing. Reconnects by itself when the server goes away.
   */
  fetch(max: number, waitMs: number): Promise<TransportMessage[]>;
  /**
   * The message is done (handled, skipped as a duplicate, or dead-lettered): the server
   * may forget it. Kafka commits an offset only when every message before it in its
   * partition is done too.
   */
  ack(messages: TransportMessage[]): Promise<void>;
  /** Messages written to the topics and not yet done by the group; null when unknown. */
  lag(): Promise<number | null>;
  /** Handed-out messages not yet acknowledged by the group (Redis pending entries list, JetStream ack pending). */
  pending(): Promise<number | null>;
  /**
   * Leaves the group: what was acknowledged is committed, what was not is left for
   * another member (or this one, restarted).
   */
  close(): Promise<void>;
}

export interface TransportProducer {
  /**
   * Writes the messages and resolves when the server has them durably (Kafka acks from
   * all in-sync replicas with an idempotent producer; JetStream's publish ack; Redis
   * XADD's reply). One key's messages are written in the order given.
   */
  send(messages: OutgoingMessage[]): Promise<void>;
  close(): Promise<void>;
}

export interface StreamTransport {
  /** 'redis', 'nats' or 'kafka': a label for logs and metrics. */
  readonly kind: string;
  /** Creates what the topics need (stream, partitions), idempotently; racing starts are safe. */
  ensureTopics(topics: string[]): Promise<void>;
  consumer(options: ConsumerOptions): Promise<TransportConsumer>;
  producer(): Promise<TransportProducer>;
  /** True while the transport can reach its server (for readiness). */
  connected(): boolean;
  close(): Promise<void>;
}
