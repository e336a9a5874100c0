import { nanos } from '@nats-io/transport-node';
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
} from '@nats-io/jetstream';
import { StoreError } from '../../../core/errors.js';
import type { ConsumerOptions } from '../../transport.js';
import { messageOf, type NatsLink } from './connection.js';
import { checkNatsTopic, durableNameFor, streamNameFor, streamSubjectFor } from './names.js';
import type { NatsJetStreamSettings } from './options.js';

/** JetStream's error codes that setup answers. */
const STREAM_NAME_IN_USE = 10058;
const SUBJECTS_OVERLAP = 10065;

/**
 * Messages a group may hold handed out and unacknowledged, over all its members. The
 * runner's own limit on messages in flight is far lower; this only stops a runaway.
 */
export const MAX_ACK_PENDING = 10_000;

/**
 * Creates each topic's stream once per transport. JetStream answers a create of a stream
 * that exists with the same configuration with success, so racing starts are safe; an
 * existing stream with other settings (made by an operator, or by an older version) keeps
 * them and gets only what the transport owns: its subjects, duplicate window and replicas.
 */
export class StreamSetup {
  private readonly ensured = new Map<string, Promise<void>>();

  constructor(
    private readonly link: NatsLink,
    private readonly settings: NatsJetStreamSettings,
  ) {}

  streamOf(topic: string): string {
    return streamNameFor(topic, this.settings.streamPrefix);
  }

  async ensure(topics: readonly string[]): Promise<void> {
    topics.forEach(checkNatsTopic);
    await Promise.all(
      [...new Set(topics)].map((topic) => {
        let done = this.ensured.get(topic);
        if (!done) {
          done = this.createOrUpdate(topic);
          this.ensured.set(topic, done);
          // A failure is not remembered: the next call tries again.
          done.catch(() => this.ensured.delete(topic));
        }
        return done;
      }),
    );
  }

  private async createOrUpdate(topic: string): Promise<void> {
    const name = this.streamOf(topic);
    const owned = {
      subjects: [streamSubjectFor(topic)],
      duplicate_window: nanos(this.settings.duplicateWindowMs),
      num_replicas: this.settings.replicas,
    };
    const { jsm } = this.link;
    try {
      await jsm.streams.add({
        name,
        ...owned,
        retention: RetentionPolicy.Limits,
        storage: StorageType.File,
        discard: DiscardPolicy.Old,
      });
    } catch (error) {
      if (!(error instanceof JetStreamApiError)) throw setupError(topic, name, error);
      if (error.code === SUBJECTS_OVERLAP) {
        throw new StoreError(
          `the stream for NATS topic ${JSON.stringify(topic)} (${name}) cannot listen on ${owned.subjects[0]}: another stream already does; delete that stream or use another topic`,
          { cause: error },
        );
      }
      if (error.code !== STREAM_NAME_IN_USE) throw setupError(topic, name, error);
      try {
        await jsm.streams.update(name, owned);
      } catch (updateError) {
        throw setupError(topic, name, updateError);
      }
    }
  }

  /**
   * The group's durable pull consumer on a topic's stream, created or brought to the
   * given ack wait. A group that exists keeps its position (its deliver policy stays).
   */
  async ensureConsumer(topic: string, options: ConsumerOptions): Promise<string> {
    const stream = this.streamOf(topic);
    const durable = durableNameFor(options.group);
    const changeable = { ack_wait: nanos(options.claimIdleMs), max_ack_pending: MAX_ACK_PENDING };
    const config: Partial<ConsumerConfig> = {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: options.startAt === 'latest' ? DeliverPolicy.New : DeliverPolicy.All,
      // Retries and dead-lettering are the reliability layer's: the server redelivers forever.
      max_deliver: -1,
      ...changeable,
    };
    const { jsm } = this.link;
    try {
      await jsm.consumers.add(stream, config);
    } catch (error) {
      // It exists with other settings: newer servers refuse the create ("consumer already
      // exists"), 2.9 tries it as an update and refuses that ("deliver policy can not be
      // updated"). Either way it keeps its position and gets the new ack wait.
      if (!(error instanceof JetStreamApiError)) throw consumerError(topic, options.group, error);
      const existing = await jsm.consumers.info(stream, durable).catch(() => null);
      if (!existing) throw consumerError(topic, options.group, error);
      const { ack_wait, max_ack_pending } = existing.config;
      if (ack_wait === changeable.ack_wait && max_ack_pending === changeable.max_ack_pending) {
        return durable;
      }
      try {
        await jsm.consumers.update(stream, durable, changeable);
      } catch (updateError) {
        throw consumerError(topic, options.group, updateError);
      }
    }
    return durable;
  }
}

function setupError(topic: string, stream: string, error: unknown): StoreError {
  return new StoreError(
    `could not create or update the JetStream stream ${stream} for topic ${JSON.stringify(topic)}: ${messageOf(error)}`,
    { cause: error },
  );
}

function consumerError(topic: string, group: string, error: unknown): StoreError {
  return new StoreError(
    `could not create the JetStream consumer of group ${JSON.stringify(group)} on topic ${JSON.stringify(topic)}: ${messageOf(error)}`,
    { cause: error },
  );
}
