import type {
  Assignment,
  KafkaConsumer,
  LibrdKafkaError,
  Message,
  TopicPartition,
  TopicPartitionOffset,
} from 'node-rdkafka';
import type { ConsumerOptions, TransportConsumer, TransportMessage } from '../../transport.js';
import { asError, baseConfig, callback, createClient, type RdKafka } from './client.js';
import { PartitionProgress, partitionKey } from './offsets.js';
import type { RdKafkaConfig, ResolvedKafkaOptions } from './options.js';

/** After a failed consume (no broker, say), wait this long before the next so fetch() does not spin. */
const CONSUME_ERROR_PAUSE_MS = 100;

/**
 * A member of a Kafka consumer group with manual commits only. Messages are read on demand
 * (fetch), handed to the runner, and committed per partition up to the first message not
 * yet done (PartitionProgress), so a commit never passes a message that was not handled.
 *
 * deliveryCount is always 1: Kafka keeps no per-message delivery count, and a message read
 * again after a rebalance or a restart looks exactly like a first read.
 */
export class KafkaStreamConsumer implements TransportConsumer {
  private readonly consumer: KafkaConsumer;
  private readonly assigned = new Map<string, PartitionProgress>();
  private readonly errors: RdKafka['CODES']['ERRORS'];
  /** True while a consume call is in flight (see onAssign). */
  private consuming = false;
  /** Assignments that arrived during a consume call, applied when it returns. */
  private deferredAssign: Assignment[] = [];
  /** fetch() and close() run one at a time: node-rdkafka's consume is not re-entrant. */
  private serial: Promise<unknown> = Promise.resolve();
  private closing = false;
  private closed: Promise<void> | undefined;
  /** The last error librdkafka reported (commit failures, broker errors), for diagnostics. */
  lastError: Error | undefined;

  private constructor(
    kafka: RdKafka,
    private readonly options: ResolvedKafkaOptions,
    consumerOptions: ConsumerOptions,
  ) {
    this.errors = kafka.CODES.ERRORS;
    const config: RdKafkaConfig = {
      ...baseConfig(options),
      'client.id': `${options.clientId}-${consumerOptions.consumerName}`,
      'group.id': consumerOptions.group,
      'enable.auto.commit': false,
      'enable.auto.offset.store': false,
    };
    this.consumer = createClient(
      () =>
        new kafka.KafkaConsumer(
          {
            ...config,
            rebalance_cb: (error: LibrdKafkaError | undefined, assignment: Assignment[]) =>
              this.onRebalance(error, assignment),
            offset_commit_cb: (
              error: LibrdKafkaError | undefined,
              offsets: TopicPartitionOffset[],
            ) => this.onCommitted(error, offsets),
          },
          { 'auto.offset.reset': consumerOptions.startAt },
        ),
      config,
      `consumer for group ${consumerOptions.group}`,
    );
    this.consumer.on('event.error', (error) => {
      this.lastError = asError(error);
    });
  }

  static async open(
    kafka: RdKafka,
    options: ResolvedKafkaOptions,
    consumerOptions: ConsumerOptions,
  ): Promise<KafkaStreamConsumer> {
    if (consumerOptions.topics.length === 0) {
      throw new Error('kafkaTransport: a consumer needs at least one topic');
    }
    const member = new KafkaStreamConsumer(kafka, options, consumerOptions);
    await callback((done) => member.consumer.connect({ timeout: options.adminTimeoutMs }, done));
    member.consumer.subscribe(consumerOptions.topics);
    return member;
  }

  get isConnected(): boolean {
    return this.consumer.isConnected();
  }

  /** The partitions this member holds now (for tests and health). */
  assignment(): TopicPartition[] {
    return [...this.assigned.values()].map(({ topic, partition }) => ({ topic, partition }));
  }

  fetch(max: number, waitMs: number): Promise<TransportMessage[]> {
    return this.runSerially(async () => {
      if (this.closing) return [];
      // Wait for the first message only; then take what librdkafka already has, without
      // waiting again (node-rdkafka's consume(n) waits its timeout for each message).
      const first = await this.consume(1, waitMs);
      if (first.length === 0 || max <= 1 || this.closing) return first;
      return first.concat(await this.consume(max - 1, 0));
    });
  }

  ack(messages: TransportMessage[]): Promise<void> {
    const touched = new Set<PartitionProgress>();
    for (const message of messages) {
      const { partition, offset } = parsePosition(message.position);
      const progress = this.assigned.get(partitionKey(message.topic, partition));
      // A partition revoked since the read: its new owner reads the message again.
      if (progress?.done(offset)) touched.add(progress);
    }
    if (!this.closing) this.commit([...touched], false);
    return Promise.resolve();
  }

  async lag(): Promise<number | null> {
    const partitions = this.assignment();
    if (partitions.length === 0 || !this.consumer.isConnected())
      return partitions.length === 0 ? 0 : null;
    const timeout = this.options.adminTimeoutMs;
    try {
      const committed = await callback<TopicPartitionOffset[]>((done) =>
        this.consumer.committed(partitions, timeout, done),
      );
      let total = 0;
      for (const { topic, partition } of partitions) {
        const { highOffset, lowOffset } = await callback<{ highOffset: number; lowOffset: number }>(
          (done) => {
            this.consumer.queryWatermarkOffsets(topic, partition, timeout, done);
          },
        );
        const done = committed.find((c) => c.topic === topic && c.partition === partition)?.offset;
        // No commit yet: the group has done nothing of what the partition still holds.
        const from = done !== undefined && done >= 0 ? done : lowOffset;
        total += Math.max(0, highOffset - from);
      }
      return total;
    } catch {
      return null;
    }
  }

  pending(): Promise<number | null> {
    let count = 0;
    for (const progress of this.assigned.values()) count += progress.pendingCount;
    return Promise.resolve(count);
  }

  close(): Promise<void> {
    this.closing = true;
    this.closed ??= this.runSerially(async () => {
      // What is done is committed and waited for; what is not stays for the next owner.
      this.commit([...this.assigned.values()], true);
      if (this.consumer.isConnected()) {
        await callback((done) => this.consumer.disconnect(done));
      }
    });
    return this.closed;
  }

  private runSerially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.serial.then(work, work);
    this.serial = run.catch(() => undefined);
    return run;
  }

  private async consume(count: number, timeoutMs: number): Promise<TransportMessage[]> {
    this.consumer.setDefaultConsumeTimeout(timeoutMs);
    this.consuming = true;
    let raw: Message[];
    try {
      raw = await callback<Message[]>((done) => this.consumer.consume(count, done));
    } catch (error) {
      this.lastError = asError(error);
      await new Promise((resolve) =>
        setTimeout(resolve, Math.min(timeoutMs, CONSUME_ERROR_PAUSE_MS)),
      );
      raw = [];
    } finally {
      this.consuming = false;
    }
    const messages = this.accept(raw);
    this.applyDeferredAssign();
    return messages;
  }

  /**
   * Keeps the messages of partitions this member still holds. A message of a partition
   * revoked during the read is dropped: it was not handed out, and the partition's new
   * owner reads it again from the committed offset.
   */
  private accept(raw: Message[]): TransportMessage[] {
    const messages: TransportMessage[] = [];
    for (const message of raw) {
      const progress = this.assigned.get(partitionKey(message.topic, message.partition));
      if (!progress) continue;
      progress.fetched(message.offset);
      messages.push(toTransportMessage(message));
    }
    return messages;
  }

  private onRebalance(error: LibrdKafkaError | undefined, assignment: Assignment[]): void {
    try {
      if (error?.code === this.errors.ERR__ASSIGN_PARTITIONS) this.onAssign(assignment);
      // A lost assignment (the member was thrown out of the group) may not be committed to.
      else this.onRevoke(assignment, error?.code === this.errors.ERR__REVOKE_PARTITIONS);
    } catch (failure) {
      // Thrown when the consumer is already disconnected; nothing is left to hand over.
      this.lastError = asError(failure);
    }
  }

  /**
   * Partitions are taken on only between reads: a read in flight may still return messages
   * of a partition revoked a moment ago, and they must not be mistaken for the new
   * assignment's, which starts again at the committed offset.
   */
  private onAssign(assignment: Assignment[]): void {
    if (this.consuming) {
      this.deferredAssign.push(...assignment);
      return;
    }
    for (const { topic, partition } of assignment) {
      this.assigned.set(partitionKey(topic, partition), new PartitionProgress(topic, partition));
    }
    this.consumer.assign(assignment);
  }

  private applyDeferredAssign(): void {
    if (this.deferredAssign.length === 0) return;
    const assignment = this.deferredAssign.splice(0);
    try {
      this.onAssign(assignment);
    } catch (failure) {
      this.lastError = asError(failure);
    }
  }

  /** Hands partitions over: commits what is done (when the group still allows it), then lets go. */
  private onRevoke(assignment: Assignment[], canCommit: boolean): void {
    const revokedKeys = new Set(
      assignment.map(({ topic, partition }) => partitionKey(topic, partition)),
    );
    this.deferredAssign = this.deferredAssign.filter(
      ({ topic, partition }) => !revokedKeys.has(partitionKey(topic, partition)),
    );
    const revoked: PartitionProgress[] = [];
    for (const key of revokedKeys) {
      const progress = this.assigned.get(key);
      if (progress) revoked.push(progress);
    }
    if (canCommit) this.commit(revoked, true);
    for (const progress of revoked) this.assigned.delete(progress.key);
    // Eager rebalancing (the options refuse cooperative-sticky): every partition goes.
    this.consumer.unassign();
  }

  /**
   * Commits each partition's contiguous-done offset. Synchronously on revoke and close
   * (the offsets must be stored before the partition changes hands); otherwise
   * asynchronously, so an ack does not block the event loop for a broker round trip. A
   * failed asynchronous commit is retried by the next ack or by close.
   */
  private commit(partitions: PartitionProgress[], sync: boolean): void {
    const offsets: TopicPartitionOffset[] = [];
    for (const progress of partitions) {
      const offset = progress.commitOffset();
      if (offset === null) continue;
      offsets.push({ topic: progress.topic, partition: progress.partition, offset });
      progress.committed(offset);
    }
    if (offsets.length === 0 || !this.consumer.isConnected()) return;
    try {
      if (sync) this.consumer.commitSync(offsets);
      else this.consumer.commit(offsets);
    } catch (error) {
      this.onCommitted(error as LibrdKafkaError, offsets);
    }
  }

  private onCommitted(error: LibrdKafkaError | undefined, offsets: TopicPartitionOffset[]): void {
    if (
      !error ||
      error.code === this.errors.ERR_NO_ERROR ||
      error.code === this.errors.ERR__NO_OFFSET
    )
      return;
    this.lastError = asError(error);
    for (const { topic, partition, offset } of offsets) {
      this.assigned.get(partitionKey(topic, partition))?.commitFailed(offset);
    }
  }
}

function toTransportMessage(message: Message): TransportMessage {
  const headers: Record<string, string> = {};
  for (const header of message.headers ?? []) {
    for (const [name, value] of Object.entries(header)) {
      headers[name] = typeof value === 'string' ? value : value.toString('utf8');
    }
  }
  const key = message.key ?? null;
  return {
    topic: message.topic,
    key: key === null ? null : typeof key === 'string' ? key : key.toString('utf8'),
    value: message.value?.toString('utf8') ?? '',
    headers,
    position: `${message.partition}:${message.offset}`,
    deliveryCount: 1,
    orderKey: partitionKey(message.topic, message.partition),
  };
}

function parsePosition(position: string): { partition: number; offset: number } {
  const [partition, offset] = position.split(':').map(Number);
  if (
    partition === undefined ||
    offset === undefined ||
    !Number.isInteger(partition) ||
    !Number.isInteger(offset)
  ) {
    throw new Error(
      `kafkaTransport: ack() of a message with position "${position}", not <partition>:<offset>`,
    );
  }
  return { partition, offset };
}
