import { StoreError, ValidationError } from '../../../core/errors.js';
import type {
  ConsumerOptions,
  StreamTransport,
  TransportConsumer,
  TransportProducer,
} from '../../transport.js';
import { messageOf, NatsLink } from './connection.js';
import { NatsConsumer, type TopicConsumer } from './consumer.js';
import { checkNatsTopic, durableNameFor } from './names.js';
import type { NatsJetStreamSettings } from './options.js';
import { NatsProducer } from './producer.js';
import { StreamSetup } from './stream-setup.js';

/**
 * The NATS JetStream transport. It connects on first use (the factory stays synchronous,
 * as a stream service wants its transport), and a failed connect is tried again on the
 * next call.
 */
export class NatsJetStreamTransport implements StreamTransport {
  readonly kind = 'nats';
  private opening: Promise<{ link: NatsLink; setup: StreamSetup }> | null = null;
  private link: NatsLink | null = null;
  private readonly consumers = new Set<NatsConsumer>();
  private closed = false;

  constructor(private readonly settings: NatsJetStreamSettings) {}

  async ensureTopics(topics: string[]): Promise<void> {
    const { setup } = await this.open();
    await setup.ensure(topics);
  }

  async consumer(options: ConsumerOptions): Promise<TransportConsumer> {
    if (options.topics.length === 0) {
      throw new ValidationError('a NATS consumer needs at least one topic', 'topics');
    }
    options.topics.forEach(checkNatsTopic);
    durableNameFor(options.group);
    const { link, setup } = await this.open();
    await setup.ensure(options.topics);
    const topics: TopicConsumer[] = [];
    for (const topic of options.topics) {
      const durable = await setup.ensureConsumer(topic, options);
      const stream = setup.streamOf(topic);
      try {
        topics.push({
          topic,
          stream,
          durable,
          consumer: await link.js.consumers.get(stream, durable),
        });
      } catch (error) {
        throw new StoreError(
          `could not read the JetStream consumer ${stream}/${durable}: ${messageOf(error)}`,
          {
            cause: error,
          },
        );
      }
    }
    const consumer = new NatsConsumer(link, topics, options);
    this.consumers.add(consumer);
    return consumer;
  }

  async producer(): Promise<TransportProducer> {
    const { link, setup } = await this.open();
    return new NatsProducer(link, setup);
  }

  connected(): boolean {
    return !this.closed && this.link !== null && this.link.up;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.consumers].map((c) => c.close()));
    const opening = this.opening;
    if (!opening) return;
    const opened = await opening.catch(() => null);
    await opened?.link.close();
  }

  private open(): Promise<{ link: NatsLink; setup: StreamSetup }> {
    if (this.closed) return Promise.reject(new StoreError('this NATS transport is closed'));
    this.opening ??= NatsLink.open(this.settings).then(
      (link) => {
        this.link = link;
        return { link, setup: new StreamSetup(link, this.settings) };
      },
      (error: unknown) => {
        this.opening = null;
        throw error;
      },
    );
    return this.opening;
  }
}
