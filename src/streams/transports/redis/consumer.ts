import type { Redis } from 'ioredis';
import type { ConsumerOptions, TransportConsumer, TransportMessage } from '../../transport.js';
import { deleteConsumerIfIdle, ensureGroup } from './groups.js';
import { groupLag, groupPending } from './group-stats.js';
import { checkConsumerOptions } from './options.js';
import { FIELD } from './producer.js';
import { MAX_BLOCK_MS, openReader, whenReady } from './reader.js';
import {
  autoClaimReply,
  compareIds,
  deliveryCounts,
  parseHeaders,
  readGroupReply,
  redisErrorCode,
  type StreamEntry,
} from './replies.js';

/** How long consumer() waits for the reader's connection. */
const CONNECT_TIMEOUT_MS = 10_000;
/** How long a closing consumer waits to remove itself from the group (a courtesy, see close). */
const LEAVE_TIMEOUT_MS = 2000;

/**
 * One member of a consumer group over one or more streams.
 *
 * fetch() hands out, in this order:
 * 1. after a start or a reconnect, the entries this member's name still holds (its own
 *    pending entries: XREADGROUP from id 0), so a restarted process goes on where it was;
 * 2. entries of any member left unacknowledged for claimIdleMs or longer (XAUTOCLAIM),
 *    which is how a member takes over from one that left or died; checked every quarter
 *    of claimIdleMs, so a takeover comes within about 1.25 x claimIdleMs;
 * 3. new entries (XREADGROUP >), blocking until one comes or the wait is over.
 *
 * Reads go on a connection of the consumer's own (a blocked read holds its connection).
 * It queues nothing while disconnected: fetch() rejects during an outage, after waiting
 * up to its waitMs for the connection, and the runner tries again; the connection comes
 * back by itself. A group the server lost (restarted without persistence, flushed) is made
 * again on the NOGROUP that says so.
 */
export class RedisStreamsConsumer implements TransportConsumer {
  private readonly streams: string[];
  private readonly topicOf = new Map<string, string>();
  /** Entries handed out by this object and not yet acknowledged, per stream. */
  private readonly inFlight = new Map<string, Set<string>>();
  /** Read beyond what a fetch asked for (a read over many streams counts per stream): handed out next. */
  private buffered: TransportMessage[] = [];
  /** Where the read of this member's own pending entries goes on, per stream; null when done. */
  private ownPendingFrom: Map<string, string> | null;
  private readonly claimCursor = new Map<string, string>();
  private nextClaimAt = 0;
  private readonly claimEveryMs: number;
  private closing: Promise<void> | null = null;
  private current: Promise<TransportMessage[]> | null = null;

  private constructor(
    private readonly client: Redis,
    private readonly reader: Redis,
    private readonly options: ConsumerOptions,
    streamKey: (topic: string) => string,
    private readonly onClosed: () => void,
  ) {
    this.streams = options.topics.map(streamKey);
    options.topics.forEach((topic, i) => this.topicOf.set(this.streams[i]!, topic));
    for (const stream of this.streams) this.inFlight.set(stream, new Set());
    this.ownPendingFrom = this.fromStart();
    this.claimEveryMs = Math.min(30_000, Math.max(50, Math.floor(options.claimIdleMs / 4)));
    let connectedBefore = false;
    reader.on('ready', () => {
      // Replies lost with the old connection may have handed entries to this member:
      // read its own pending entries again (those still in hand are skipped).
      if (connectedBefore) this.ownPendingFrom = this.fromStart();
      connectedBefore = true;
    });
  }

  static async open(
    client: Redis,
    options: ConsumerOptions,
    streamKey: (topic: string) => string,
    events: { onError: (error: Error) => void; onClosed: () => void },
  ): Promise<RedisStreamsConsumer> {
    checkConsumerOptions(options);
    const streams = options.topics.map(streamKey);
    await Promise.all(streams.map((s) => ensureGroup(client, s, options.group, options.startAt)));
    const reader = openReader(client);
    reader.on('error', events.onError);
    const consumer = new RedisStreamsConsumer(client, reader, options, streamKey, events.onClosed);
    if (!(await consumer.readerReady(CONNECT_TIMEOUT_MS))) {
      reader.disconnect();
      throw new Error(
        `the Redis Streams consumer ${options.consumerName} could not open its reading connection within ${CONNECT_TIMEOUT_MS} ms`,
      );
    }
    return consumer;
  }

  private fromStart(): Map<string, string> {
    return new Map(this.streams.map((stream) => [stream, '0']));
  }

  fetch(max: number, waitMs: number): Promise<TransportMessage[]> {
    if (!Number.isInteger(max) || max < 1) {
      return Promise.reject(
        new RangeError(`fetch: max must be a whole number of at least 1, got ${max}`),
      );
    }
    // The runner reads one batch at a time; should two calls overlap, the second waits.
    const previous = this.current ?? Promise.resolve([]);
    const run = previous.catch(() => []).then(() => this.fetchNow(max, Math.max(0, waitMs)));
    this.current = run;
    return run.finally(() => {
      if (this.current === run) this.current = null;
    });
  }

  private async fetchNow(max: number, waitMs: number): Promise<TransportMessage[]> {
    if (this.closing) return [];
    if (this.buffered.length > 0) return this.buffered.splice(0, max);
    if (!(await this.readerReady(waitMs))) {
      if (this.closing) return [];
      throw new Error(
        `Redis is not reachable (the stream reader's connection is ${this.reader.status}); it reconnects by itself`,
      );
    }
    try {
      return await this.read(max, waitMs);
    } catch (error) {
      if (this.closing) return [];
      if (redisErrorCode(error) !== 'NOGROUP') throw error;
      // The server lost the group (or the stream): make it again and go on from there.
      await this.recreateGroups();
      return await this.read(max, waitMs);
    }
  }

  private readerReady(waitMs: number): Promise<boolean> {
    if (this.closing) return Promise.resolve(this.reader.status === 'ready');
    return whenReady(this.reader, waitMs);
  }

  private async recreateGroups(): Promise<void> {
    const { group, startAt } = this.options;
    await Promise.all(this.streams.map((s) => ensureGroup(this.reader, s, group, startAt)));
    this.ownPendingFrom = this.fromStart();
    this.claimCursor.clear();
    this.nextClaimAt = 0;
  }

  private async read(max: number, waitMs: number): Promise<TransportMessage[]> {
    const found: TransportMessage[] = [];
    try {
      if (this.ownPendingFrom) found.push(...(await this.readOwnPending(max)));
      if (found.length < max && Date.now() >= this.nextClaimAt) {
        found.push(...(await this.claimIdle(max - found.length)));
      }
      if (found.length === 0) {
        // Wake up in time for the next takeover check.
        const blockMs = Math.min(waitMs, MAX_BLOCK_MS, this.nextClaimAt - Date.now());
        found.push(...(await this.readNew(max, blockMs)));
      }
    } catch (error) {
      // What was read before the failure is recorded as in hand, and would never be
      // handed out again: hand it out now. The failure comes again on the next read.
      if (found.length === 0) throw error;
    }
    if (found.length > max) this.buffered.push(...found.splice(max));
    return found;
  }

  /** This member's own pending entries, from where the last such read stopped. */
  private async readOwnPending(max: number): Promise<TransportMessage[]> {
    const from = this.ownPendingFrom!;
    const streams = [...from.keys()];
    const reply = await this.reader.call(
      'XREADGROUP',
      ...this.groupArgs(),
      'COUNT',
      max,
      'STREAMS',
      ...streams,
      ...streams.map((s) => from.get(s)!),
    );
    const byStream = readGroupReply(reply);
    for (const stream of streams) {
      const last = byStream.get(stream)?.at(-1);
      if (last) from.set(stream, last.id);
      else from.delete(stream);
    }
    if (from.size === 0) this.ownPendingFrom = null;
    // reading them again counted one more delivery each; XPENDING says how many in all
    return this.handOut(byStream, 'ask');
  }

  /** Entries left unacknowledged by any member for claimIdleMs or longer, taken over. */
  private async claimIdle(room: number): Promise<TransportMessage[]> {
    const pipeline = this.reader.pipeline();
    for (const stream of this.streams) {
      pipeline.xautoclaim(
        stream,
        this.options.group,
        this.options.consumerName,
        this.options.claimIdleMs,
        this.claimCursor.get(stream) ?? '0-0',
        'COUNT',
        room,
      );
    }
    const replies = (await pipeline.exec()) ?? [];
    const byStream = new Map<string, StreamEntry[]>();
    let scanDone = true;
    let failure: Error | null = null;
    for (const [i, [error, reply]] of replies.entries()) {
      if (error) {
        failure ??= error;
        continue;
      }
      const stream = this.streams[i]!;
      const { cursor, entries } = autoClaimReply(reply);
      this.claimCursor.set(stream, cursor);
      if (cursor !== '0-0') scanDone = false;
      byStream.set(stream, entries);
    }
    // A scan not through yet goes on at the next fetch; a finished one waits its turn.
    this.nextClaimAt = scanDone ? Date.now() + this.claimEveryMs : 0;
    // Entries claimed on the other streams are this member's now: hand them out, failure or not.
    const claimed = await this.handOut(byStream, 'ask');
    if (failure && claimed.length === 0) throw failure;
    return claimed;
  }

  private async readNew(max: number, blockMs: number): Promise<TransportMessage[]> {
    // BLOCK 0 would wait for ever: a wait of nothing is a read without BLOCK
    const block = blockMs >= 1 ? ['BLOCK', Math.ceil(blockMs)] : [];
    const reply = await this.reader.call(
      'XREADGROUP',
      ...this.groupArgs(),
      'COUNT',
      max,
      ...block,
      'STREAMS',
      ...this.streams,
      ...this.streams.map(() => '>'),
    );
    if (this.closing) return []; // left pending, for the next member or this one restarted
    return this.handOut(readGroupReply(reply), 1);
  }

  private groupArgs(): string[] {
    return ['GROUP', this.options.group, this.options.consumerName];
  }

  /**
   * The read entries as messages, recorded as in hand. Entries this object already handed
   * out (and that are not acknowledged yet) are not handed out twice; entries deleted
   * from the stream while pending have nothing to handle and are acknowledged here.
   * Never fails: an entry recorded as in hand must reach the caller.
   */
  private async handOut(
    byStream: Map<string, StreamEntry[]>,
    deliveryCount: number | 'ask',
  ): Promise<TransportMessage[]> {
    const messages: TransportMessage[] = [];
    const deleted = new Map<string, string[]>();
    for (const [stream, entries] of byStream) {
      const inHand = this.inFlight.get(stream);
      if (!inHand) continue;
      const fresh = entries.filter((entry) => !inHand.has(entry.id));
      const gone = fresh.filter((entry) => entry.fields === null).map((entry) => entry.id);
      if (gone.length > 0) deleted.set(stream, gone);
      const live = fresh.filter((entry) => entry.fields !== null);
      if (live.length === 0) continue;
      const counts = deliveryCount === 'ask' ? await this.deliveryCountsOf(stream, live) : null;
      for (const entry of live) {
        inHand.add(entry.id);
        const count = counts?.get(entry.id) ?? (deliveryCount === 'ask' ? 2 : deliveryCount);
        messages.push(this.toMessage(stream, entry, count));
      }
    }
    // left pending when this fails: read (and acknowledged) again by a later takeover pass
    if (deleted.size > 0) await this.acknowledge(deleted).catch(() => undefined);
    return messages;
  }

  /**
   * How many times each entry (all this member's, in one stream) has been handed out; none
   * when XPENDING fails (the caller counts such an entry as delivered twice).
   */
  private async deliveryCountsOf(
    stream: string,
    entries: StreamEntry[],
  ): Promise<Map<string, number>> {
    const ids = entries.map((entry) => entry.id).sort(compareIds);
    const room = ids.length + (this.inFlight.get(stream)?.size ?? 0);
    const reply = await this.reader
      .xpending(stream, this.options.group, ids[0]!, ids.at(-1)!, room, this.options.consumerName)
      .catch(() => null);
    return deliveryCounts(reply);
  }

  private toMessage(stream: string, entry: StreamEntry, deliveryCount: number): TransportMessage {
    const topic = this.topicOf.get(stream)!;
    const fields = entry.fields!;
    const key = fields.get(FIELD.key) || null;
    return {
      topic,
      key,
      value: fields.get(FIELD.value) ?? '',
      headers: parseHeaders(fields.get(FIELD.headers)),
      position: entry.id,
      deliveryCount: Math.max(1, deliveryCount),
      orderKey: `${topic}\u0000${key ?? ''}`,
    };
  }

  async ack(messages: TransportMessage[]): Promise<void> {
    const byStream = new Map<string, string[]>();
    for (const message of messages) {
      const stream = this.streams[this.options.topics.indexOf(message.topic)];
      if (stream === undefined) {
        throw new Error(
          `ack: topic ${JSON.stringify(message.topic)} is not one this consumer reads (${this.options.topics.join(', ')})`,
        );
      }
      const ids = byStream.get(stream) ?? [];
      ids.push(message.position);
      byStream.set(stream, ids);
    }
    await this.acknowledge(byStream);
  }

  /** XACK per stream, in one pipeline on the shared client (the reader may be blocked). */
  private async acknowledge(byStream: Map<string, string[]>): Promise<void> {
    if (byStream.size === 0) return;
    const pipeline = this.client.pipeline();
    for (const [stream, ids] of byStream) pipeline.xack(stream, this.options.group, ...ids);
    const replies = (await pipeline.exec()) ?? [];
    // NOGROUP: the server lost the group, and its pending entries with it: nothing to acknowledge
    const failed = replies.find(([error]) => error && redisErrorCode(error) !== 'NOGROUP');
    if (failed) throw failed[0]!;
    for (const [stream, ids] of byStream) {
      const inHand = this.inFlight.get(stream);
      for (const id of ids) inHand?.delete(id);
    }
  }

  lag(): Promise<number | null> {
    return groupLag(this.client, this.streams, this.options.group);
  }

  pending(): Promise<number | null> {
    return groupPending(this.client, this.streams, this.options.group);
  }

  /**
   * Stops reading at once (a blocked read ends with its connection) and leaves every
   * entry not acknowledged pending, for another member to take over after claimIdleMs or
   * for this member's name to read again when it restarts. Deletes nothing: the member
   * leaves the group only when it holds no pending entry.
   */
  close(): Promise<void> {
    this.closing ??= this.leave();
    return this.closing;
  }

  private async leave(): Promise<void> {
    this.onClosed();
    this.reader.disconnect();
    await this.current?.catch(() => []);
    this.buffered = [];
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        deleteConsumerIfIdle(
          this.client,
          this.streams,
          this.options.group,
          this.options.consumerName,
        ),
        new Promise((resolve) => (timer = setTimeout(resolve, LEAVE_TIMEOUT_MS))),
      ]);
    } catch {
      // A member left in the group costs a line in XINFO CONSUMERS, nothing more.
    } finally {
      clearTimeout(timer);
    }
  }
}
