import type { Consumer, JsMsg } from '@nats-io/jetstream';
import { StoreError, ValidationError } from '../../../core/errors.js';
import type { ConsumerOptions, TransportConsumer, TransportMessage } from '../../transport.js';
import { API_TIMEOUT_MS, messageOf, type NatsLink } from './connection.js';
import { keyFromSubject } from './names.js';
import { LONG_KEY_HEADER } from './producer.js';
import { TopicPuller } from './puller.js';

/** How long close() waits for the server to take back the messages it never handed out. */
const CLOSE_FLUSH_MS = 2000;

export interface TopicConsumer {
  topic: string;
  stream: string;
  durable: string;
  consumer: Consumer;
}

/**
 * A member of a group: one durable pull consumer per topic, shared by every member of
 * the group (JetStream hands each message to one of them). What a member fetched and did
 * not acknowledge goes to another member, or back to it, once the ack wait
 * (`claimIdleMs`) has passed.
 */
export class NatsConsumer implements TransportConsumer {
  private readonly pullers: TopicPuller[];
  /** Fetched and not yet acknowledged, by topic, stream sequence and delivery count. */
  private readonly unacked = new Map<string, JsMsg>();
  /** Fetches waiting for a message to come or a pull to end. */
  private readonly waiting = new Set<() => void>();
  private closing = false;
  /** Where the next fetch starts taking, so that no topic starves the others. */
  private turn = 0;

  constructor(
    private readonly link: NatsLink,
    private readonly topics: TopicConsumer[],
    readonly options: ConsumerOptions,
  ) {
    this.pullers = topics.map((t) => new TopicPuller(t.topic, t.consumer, () => this.wakeAll()));
  }

  async fetch(max: number, waitMs: number): Promise<TransportMessage[]> {
    if (!Number.isInteger(max) || max < 1) {
      throw new ValidationError(
        `fetch needs a whole number of messages of at least 1; got ${max}`,
        'max',
      );
    }
    const deadline = Date.now() + Math.max(0, waitMs);
    for (;;) {
      if (this.closing) return [];
      const ready = this.takeReady(max);
      if (ready.length > 0) return ready;
      for (const puller of this.pullers) {
        const failure = puller.takeFailure();
        if (failure) {
          throw new StoreError(
            `could not fetch from NATS topic ${puller.topic}: ${messageOf(failure)}`,
            {
              cause: failure,
            },
          );
        }
      }
      this.requestPulls(max, waitMs);
      const left = deadline - Date.now();
      if (left <= 0) return [];
      const woken = await this.waitForChange(left);
      // The first message of a batch wakes us; the rest of what the server sent with it is
      // parsed in the same turn of the event loop: let it land before taking.
      if (woken) await new Promise((resolve) => setImmediate(resolve));
    }
  }

  async ack(messages: TransportMessage[]): Promise<void> {
    // One entry per delivery: a message handed out again (after the ack wait) is a new
    // delivery, acknowledged on its own. A message not found was acknowledged already or
    // handed out before close(); skipping it can only bring it again, never lose it, and
    // a caller that retries a failed ack() must not fail for good on it.
    const keys = messages.map(deliveryKey);
    for (const key of keys) this.unacked.get(key)?.ack();
    // An ack is a message without a reply. The flush's round trip makes sure the server has
    // read them all (it reads a connection in order) before the caller counts them done:
    // as fast as a bare ack, where waiting for each ack's own reply (ackAck) took 3 times
    // as long. An ack lost with the connection only means the message comes again.
    // While the connection is away the flush waits for the next one; the caller hears of
    // it after API_TIMEOUT_MS and may acknowledge again (a second ack is harmless).
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.link.nc.flush(),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer from the server in ${API_TIMEOUT_MS} ms`)),
            API_TIMEOUT_MS,
          );
        }),
      ]);
    } catch (error) {
      throw new StoreError(`could not confirm acknowledgements on NATS: ${messageOf(error)}`, {
        cause: error,
      });
    } finally {
      clearTimeout(timer);
    }
    // Forgotten only once the server has them: a failed ack() is retried with the same messages.
    for (const key of keys) this.unacked.delete(key);
  }

  async lag(): Promise<number | null> {
    const infos = await this.infos();
    return infos && infos.reduce((sum, info) => sum + info.num_pending + info.num_ack_pending, 0);
  }

  async pending(): Promise<number | null> {
    const infos = await this.infos();
    return infos && infos.reduce((sum, info) => sum + info.num_ack_pending, 0);
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.wakeAll();
    const notHandedOut = (await Promise.all(this.pullers.map((p) => p.stop()))).flat();
    // Messages that came but were never handed out go back at once, not after the ack
    // wait; what was handed out and not acknowledged is left for the ack wait to return.
    if (notHandedOut.length > 0 && this.link.up) {
      for (const message of notHandedOut) message.nak();
      await Promise.race([
        this.link.nc.flush().catch(() => undefined),
        new Promise((resolve) => setTimeout(resolve, CLOSE_FLUSH_MS).unref()),
      ]);
    }
    this.unacked.clear();
  }

  /**
   * Starts pulls on the idle topics, each for its share of `max` (taking turns when there
   * are more topics than `max`), so that when every topic is busy a fetch brings about
   * `max`. A pull still open on a quiet topic does not count against the others: it would
   * starve them until it expires. So what waits here unseen stays around `max`, under twice it.
   */
  private requestPulls(max: number, waitMs: number): void {
    const count = this.pullers.length;
    const share = Math.max(1, Math.floor(max / count));
    let room = max;
    for (let i = 0; i < count && room > 0; i++) {
      const puller = this.pullers[(this.turn + i) % count]!;
      if (!puller.idle) continue;
      const size = Math.min(share, room);
      puller.request(size, waitMs);
      room -= size;
    }
  }

  private takeReady(max: number): TransportMessage[] {
    const out: TransportMessage[] = [];
    const count = this.pullers.length;
    for (let i = 0; i < count && out.length < max; i++) {
      const puller = this.pullers[(this.turn + i) % count]!;
      for (const message of puller.take(max - out.length)) {
        const transportMessage = toTransportMessage(puller.topic, message);
        this.unacked.set(deliveryKey(transportMessage), message);
        out.push(transportMessage);
      }
    }
    this.turn = (this.turn + 1) % Math.max(1, count);
    return out;
  }

  private wakeAll(): void {
    const waiting = [...this.waiting];
    this.waiting.clear();
    for (const wake of waiting) wake();
  }

  private waitForChange(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.waiting.delete(wake);
        resolve(false);
      }, ms);
      this.waiting.add(wake);
    });
  }

  private async infos() {
    try {
      return await Promise.all(
        this.topics.map((t) => this.link.jsm.consumers.info(t.stream, t.durable)),
      );
    } catch {
      return null; // the server cannot be asked right now: unknown
    }
  }
}

function deliveryKey(message: TransportMessage): string {
  return `${message.topic}\n${message.position}\n${message.deliveryCount}`;
}

function toTransportMessage(topic: string, message: JsMsg): TransportMessage {
  const headers: Record<string, string> = {};
  let longKey: string | null = null;
  for (const name of message.headers?.keys() ?? []) {
    const value = message.headers!.get(name);
    if (name === LONG_KEY_HEADER) longKey = Buffer.from(value, 'base64url').toString('utf8');
    else if (!/^nats-/i.test(name)) headers[name] = value;
  }
  return {
    topic,
    key: longKey ?? keyFromSubject(topic, message.subject),
    value: message.string(),
    headers,
    position: String(message.seq),
    deliveryCount: message.info.deliveryCount,
    orderKey: message.subject,
  };
}
