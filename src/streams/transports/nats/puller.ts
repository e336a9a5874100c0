import type { Consumer, ConsumerMessages, JsMsg } from '@nats-io/jetstream';

/**
 * The shortest pull. JetStream's client refuses under a second, and ends a pull when two
 * of the server's idle heartbeats (half the pull's time each) go unread: a short pull
 * would fail whenever the event loop is busy for a second. A longer one costs nothing, as
 * a fetch returns as soon as messages come and a running pull is waited on, not repeated.
 */
const MIN_EXPIRES_MS = 5000;
const MAX_EXPIRES_MS = 30_000;

/**
 * One topic's pulls for a consumer. A pull asks the server for up to `max` messages and
 * stays open until it has them or its time is up; the messages land here as they come.
 * The consumer hands them out as soon as the first is in, while the pull goes on filling
 * the buffer: cutting a pull short would throw away what the server is already sending
 * (it would come back only after the ack wait). A new pull starts only when the last one
 * is over and its messages are all handed out, so at most one pull's worth waits here.
 */
export class TopicPuller {
  private readonly buffer: JsMsg[] = [];
  private pull: Promise<void> | null = null;
  private messages: ConsumerMessages | null = null;
  private failure: unknown = null;
  private stopped = false;

  constructor(
    readonly topic: string,
    private readonly consumer: Consumer,
    /** Called when a message arrives or a pull ends. */
    private readonly changed: () => void,
  ) {}

  /** Neither pulling nor holding messages: ready for a new pull. */
  get idle(): boolean {
    return !this.stopped && this.pull === null && this.buffer.length === 0;
  }

  /** Starts a pull of up to `max` (when idle). */
  request(max: number, waitMs: number): void {
    if (!this.idle) return;
    const expires = Math.min(MAX_EXPIRES_MS, Math.max(MIN_EXPIRES_MS, waitMs));
    this.pull = this.run(max, expires).finally(() => {
      this.pull = null;
      this.changed();
    });
  }

  take(max: number): JsMsg[] {
    return this.buffer.splice(0, max);
  }

  /** The error that ended the last pull (server gone, consumer deleted), once. */
  takeFailure(): unknown {
    const failure = this.failure;
    this.failure = null;
    return failure;
  }

  /** Ends the running pull and returns what had come and was not handed out. */
  async stop(): Promise<JsMsg[]> {
    this.stopped = true;
    // Unsubscribes: the server checks that a pull's reply subject still has a listener
    // before it sends, so nothing more is handed to us.
    await this.messages?.close().catch(() => undefined);
    await this.pull;
    return this.buffer.splice(0);
  }

  private async run(max: number, expires: number): Promise<void> {
    try {
      const messages = await this.consumer.fetch({ max_messages: max, expires });
      this.messages = messages;
      if (this.stopped) await messages.close();
      for await (const message of messages) {
        this.buffer.push(message);
        this.changed();
      }
    } catch (error) {
      if (!this.stopped) this.failure = error;
    } finally {
      this.messages = null;
    }
  }
}
