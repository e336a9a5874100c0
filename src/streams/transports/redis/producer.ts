import type { Redis } from 'ioredis';
import type { OutgoingMessage, TransportProducer } from '../../transport.js';

/** The fields of a stream entry, as the contract's wire mapping names them. */
export const FIELD = {
  value: 'v',
  key: 'k',
  headers: 'h',
  eventId: 'id',
} as const;

/**
 * Writes each message as one XADD on its topic's stream. A batch goes out as one pipeline:
 * Redis runs its commands in the order sent, so one key's messages (one stream's) keep
 * their order, and send() resolves once every reply is in (Redis has the entries; how
 * durably depends on the server's appendfsync).
 */
export class RedisStreamsProducer implements TransportProducer {
  private closed = false;

  constructor(
    private readonly client: Redis,
    private readonly streamKey: (topic: string) => string,
    private readonly maxLen: number | null,
  ) {}

  async send(messages: OutgoingMessage[]): Promise<void> {
    if (this.closed) throw new Error('this Redis Streams producer is closed; make a new one');
    if (messages.length === 0) return;
    const pipeline = this.client.pipeline();
    for (const message of messages) {
      // MAXLEN ~ lets Redis trim whole macro nodes only: cheap, and never below maxLen
      const trim = this.maxLen === null ? [] : ['MAXLEN', '~', this.maxLen];
      pipeline.call(
        'XADD',
        this.streamKey(message.topic),
        ...trim,
        '*',
        FIELD.value,
        message.value,
        FIELD.key,
        message.key ?? '',
        FIELD.headers,
        JSON.stringify(message.headers),
        FIELD.eventId,
        message.id,
      );
    }
    const replies = await pipeline.exec();
    if (!replies) throw new Error('the Redis pipeline of XADDs was aborted');
    const failed = replies.findIndex(([error]) => error !== null);
    if (failed >= 0) {
      const cause = replies[failed]![0]!;
      const stream = this.streamKey(messages[failed]!.topic);
      throw new Error(
        `Redis refused the write of event ${messages[failed]!.id} to stream ${JSON.stringify(stream)}: ${cause.message}`,
        { cause },
      );
    }
  }

  close(): Promise<void> {
    // The client is the transport's (or the application's): nothing of the producer's own to free.
    this.closed = true;
    return Promise.resolve();
  }
}
