/**
 * Kafka transport for stream services, on node-rdkafka (librdkafka): an idempotent
 * producer with acks from all in-sync replicas, and consumer group members with manual,
 * contiguous commits. See docs/streams/kafka.md.
 *
 *   import { kafkaTransport } from 'dispatchbox/streams/kafka';
 *   const transport = kafkaTransport({ brokers: 'kafka-1:9092,kafka-2:9092' });
 */
import type { Producer } from 'node-rdkafka';
import type {
  ConsumerOptions,
  StreamTransport,
  TransportConsumer,
  TransportProducer,
} from '../../transport.js';
import { baseConfig, callback, createClient, loadRdKafka, type RdKafka } from './client.js';
import { KafkaStreamConsumer } from './consumer.js';
import {
  resolveKafkaOptions,
  type KafkaTransportOptions,
  type ResolvedKafkaOptions,
} from './options.js';
import { KafkaStreamProducer } from './producer.js';
import { TopicCreator } from './topics.js';

export type { KafkaTransportOptions, RdKafkaConfig } from './options.js';
export { EVENT_ID_HEADER } from './producer.js';
export { KafkaStreamConsumer } from './consumer.js';

export class KafkaTransport implements StreamTransport {
  readonly kind = 'kafka';
  private readonly options: ResolvedKafkaOptions;
  private readonly consumers = new Set<KafkaStreamConsumer>();
  private readonly producers = new Set<KafkaStreamProducer>();
  private metadataProducer: Promise<Producer> | undefined;
  private topics: TopicCreator | undefined;
  private closed = false;

  constructor(options: KafkaTransportOptions) {
    this.options = resolveKafkaOptions(options);
  }

  async ensureTopics(topics: string[]): Promise<void> {
    const kafka = await this.open();
    this.topics ??= new TopicCreator(kafka, this.options, () => this.metadataClient(kafka));
    await this.topics.ensure(topics);
  }

  async consumer(options: ConsumerOptions): Promise<TransportConsumer> {
    const member = await KafkaStreamConsumer.open(await this.open(), this.options, options);
    this.consumers.add(member);
    const close = member.close.bind(member);
    member.close = async () => {
      this.consumers.delete(member);
      await close();
    };
    return member;
  }

  async producer(): Promise<TransportProducer> {
    const producer = await KafkaStreamProducer.open(await this.open(), this.options);
    this.producers.add(producer);
    const close = producer.close.bind(producer);
    producer.close = async () => {
      this.producers.delete(producer);
      await close();
    };
    return producer;
  }

  /**
   * True while one of this transport's clients has its librdkafka handle connected.
   * librdkafka reconnects to brokers by itself; a handle stays connected through a broker
   * outage, so this is "set up and not closed" rather than a broker health check.
   */
  connected(): boolean {
    if (this.closed) return false;
    for (const member of this.consumers) if (member.isConnected) return true;
    for (const producer of this.producers) if (producer.isConnected) return true;
    return this.metadataConnected;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.consumers].map((member) => member.close()));
    await Promise.allSettled([...this.producers].map((producer) => producer.close()));
    this.topics?.close();
    const metadata = await this.metadataProducer?.catch(() => undefined);
    if (metadata?.isConnected()) await callback((done) => metadata.disconnect(done));
  }

  private metadataConnected = false;

  private open(): Promise<RdKafka> {
    if (this.closed) return Promise.reject(new Error('kafkaTransport: the transport is closed'));
    return loadRdKafka();
  }

  /** A plain producer used only for metadata requests (topic lists, auto-creation). */
  private metadataClient(kafka: RdKafka): Promise<Producer> {
    this.metadataProducer ??= (async () => {
      const config = baseConfig(this.options);
      const client = createClient(() => new kafka.Producer(config), config, 'metadata client');
      await callback((done) => client.connect({ timeout: this.options.adminTimeoutMs }, done));
      this.metadataConnected = true;
      client.on('disconnected', () => (this.metadataConnected = false));
      return client;
    })();
    this.metadataProducer.catch(() => (this.metadataProducer = undefined));
    return this.metadataProducer;
  }
}

/** A StreamTransport on Kafka. Options are checked now; the client connects on first use. */
export function kafkaTransport(options: KafkaTransportOptions): KafkaTransport {
  return new KafkaTransport(options);
}
