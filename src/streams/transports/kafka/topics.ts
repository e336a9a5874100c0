import type { IAdminClient, Metadata, Producer } from 'node-rdkafka';
import {
  asError,
  baseConfig,
  callback,
  createClient,
  isKafkaError,
  type RdKafka,
} from './client.js';
import type { ResolvedKafkaOptions } from './options.js';

/**
 * Creates topics idempotently. The admin API's CreateTopics is tried first; "already
 * exists" counts as success, so racing starts are safe. A cluster that does not answer
 * CreateTopics (librdkafka's mock cluster, some managed services) is asked for the topic's
 * metadata instead, which makes a broker with auto-creation enabled create it with its
 * default partition count; a topic that still does not exist then is an error.
 */
export class TopicCreator {
  private admin: IAdminClient | undefined;
  /** Set once CreateTopics went unanswered and auto-creation worked: skip the wait next time. */
  private createTopicsUnanswered = false;

  constructor(
    private readonly kafka: RdKafka,
    private readonly options: ResolvedKafkaOptions,
    /** A connected client for metadata requests (the transport's metadata producer). */
    private readonly metadataClient: () => Promise<Producer>,
  ) {}

  async ensure(topics: string[]): Promise<void> {
    const wanted = [...new Set(topics)];
    for (const topic of wanted) validateTopicName(topic);
    const existing = await this.topicNames();
    for (const topic of wanted) {
      if (existing.has(topic)) continue;
      if (!this.createTopicsUnanswered && (await this.createTopic(topic)) === 'created') continue;
      await this.autoCreate(topic);
    }
  }

  close(): void {
    this.admin?.disconnect();
    this.admin = undefined;
  }

  private async topicNames(): Promise<Set<string>> {
    const client = await this.metadataClient();
    const metadata = await callback<Metadata>((done) => {
      client.getMetadata({ allTopics: true, timeout: this.options.adminTimeoutMs }, done);
    });
    return new Set(metadata.topics.map((topic) => topic.name));
  }

  private async createTopic(topic: string): Promise<'created' | 'unanswered'> {
    const { ERRORS } = this.kafka.CODES;
    this.admin ??= createClient(
      () => this.kafka.AdminClient.create(baseConfig(this.options)),
      baseConfig(this.options),
      'admin client',
    );
    const admin = this.admin;
    try {
      await callback<void>((done) =>
        admin.createTopic(
          {
            topic,
            num_partitions: this.options.partitions,
            replication_factor: this.options.replicationFactor,
          },
          this.options.adminTimeoutMs,
          (error) => done(error, undefined),
        ),
      );
      return 'created';
    } catch (error) {
      const code = isKafkaError(error) ? error.code : (error as { code?: number }).code;
      if (code === ERRORS.ERR_TOPIC_ALREADY_EXISTS) return 'created';
      if (code === ERRORS.ERR__TIMED_OUT || code === ERRORS.ERR__UNSUPPORTED_FEATURE) {
        return 'unanswered';
      }
      throw new Error(
        `kafkaTransport: could not create topic "${topic}": ${asError(error).message}`,
      );
    }
  }

  private async autoCreate(topic: string): Promise<void> {
    const client = await this.metadataClient();
    // A metadata request for one topic lets the broker auto-create it (allow.auto.create.topics
    // is on for producers in librdkafka).
    const metadata = await callback<Metadata>((done) => {
      client.getMetadata({ topic, timeout: this.options.adminTimeoutMs }, done);
    }).catch(() => undefined);
    const found = metadata?.topics.find((entry) => entry.name === topic);
    if (!found || found.partitions.length === 0) {
      throw new Error(
        `kafkaTransport: topic "${topic}" does not exist and could not be created: the cluster ` +
          `did not answer CreateTopics within ${this.options.adminTimeoutMs} ms and does not ` +
          'auto-create topics. Create it with your Kafka tooling, or raise adminTimeoutMs.',
      );
    }
    this.createTopicsUnanswered = true;
  }
}

/** Kafka's own rule for topic names, checked here so the error names the topic. */
function validateTopicName(topic: string): void {
  if (!/^[a-zA-Z0-9._-]{1,249}$/.test(topic) || topic === '.' || topic === '..') {
    throw new Error(
      `kafkaTransport: "${topic}" is not a valid Kafka topic name: use 1 to 249 of a-z A-Z 0-9 . _ -`,
    );
  }
}
