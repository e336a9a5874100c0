import type { Redis } from 'ioredis';
import type {
  ConsumerOptions,
  StreamTransport,
  TransportConsumer,
  TransportProducer,
} from '../../transport.js';
import { RedisStreamsConsumer } from './consumer.js';
import { ensureStreams } from './groups.js';
import { clientFromUrl, type ParsedRedisStreamsOptions } from './options.js';
import { RedisStreamsProducer } from './producer.js';

/** How long close() lets the transport's own client finish what it sent before dropping it. */
const QUIT_TIMEOUT_MS = 2000;

/**
 * Redis Streams as a StreamTransport: a topic is a stream (keyPrefix + topic), a group a
 * consumer group. One client (the application's, or one made from the URL) carries
 * writes, acknowledgements and group work; each consumer adds a connection of its own for
 * its blocking reads.
 */
export class RedisStreamsTransport implements StreamTransport {
  readonly kind = 'redis';
  private readonly client: Redis;
  private readonly ownsClient: boolean;
  private readonly consumers = new Set<TransportConsumer>();
  private readonly producers = new Set<TransportProducer>();
  private closed = false;

  constructor(private readonly options: ParsedRedisStreamsOptions) {
    if (options.client) {
      this.client = options.client;
      this.ownsClient = false;
    } else {
      this.client = clientFromUrl(options.url!, options.onError);
      this.ownsClient = true;
    }
  }

  /** The stream key of a topic. */
  streamKey = (topic: string): string => `${this.options.keyPrefix}${topic}`;

  async ensureTopics(topics: string[]): Promise<void> {
    this.checkOpen();
    await ensureStreams(this.client, topics.map(this.streamKey));
  }

  async consumer(options: ConsumerOptions): Promise<TransportConsumer> {
    this.checkOpen();
    const consumer: TransportConsumer = await RedisStreamsConsumer.open(
      this.client,
      options,
      this.streamKey,
      { onError: this.options.onError, onClosed: () => this.consumers.delete(consumer) },
    );
    this.consumers.add(consumer);
    return consumer;
  }

  producer(): Promise<TransportProducer> {
    if (this.closed) return Promise.reject(closedError());
    const producer = new RedisStreamsProducer(this.client, this.streamKey, this.options.maxLen);
    this.producers.add(producer);
    return Promise.resolve(producer);
  }

  connected(): boolean {
    return !this.closed && this.client.status === 'ready';
  }

  /** Closes every consumer and producer it made, then its own client (never the application's). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.consumers].map((consumer) => consumer.close()));
    await Promise.all([...this.producers].map((producer) => producer.close()));
    if (this.ownsClient) await quitWithin(this.client, QUIT_TIMEOUT_MS);
  }

  private checkOpen(): void {
    if (this.closed) throw closedError();
  }
}

function closedError(): Error {
  return new Error('this Redis Streams transport is closed; make a new one');
}

/** QUIT (replies to what was sent come first), or a plain disconnect when the server does not answer in time. */
async function quitWithin(client: Redis, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.quit(),
      new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs))),
    ]);
  } catch {
    // the connection is going anyway
  } finally {
    clearTimeout(timer);
    client.disconnect();
  }
}
