import type { ChainableCommander, Redis } from 'ioredis';
import type { WakeListener } from '../backend.js';
import { TICKET_GROUP, type DomainKeys } from './keys.js';
import { defineScripts } from './scripts/runner.js';

/**
 * Delivery on Redis Streams. Each domain has one stream of tickets: every script that
 * makes a command ready (a send, a batch commit, a retry or snooze or delayed command
 * coming due, a lease recovery, an operator retry) XADDs one entry `id <command id>` in
 * the same atomic step. One consumer group per domain (TICKET_GROUP) reads them; each
 * worker is a consumer named by its worker id.
 *
 * What tickets do: they wake workers (a worker with nothing to do blocks on XREADGROUP
 * ... BLOCK on a connection of its own, and Redis hands each new ticket to one blocked
 * worker, so a send wakes one worker rather than all), and they account for deliveries:
 * a claim pins a ticket on each command it takes, the settle acknowledges it (XACK), and
 * a dead consumer's tickets are taken back with XAUTOCLAIM once they idle past the lease
 * (renewals keep a live worker's tickets fresh). XPENDING is the number of deliveries
 * not yet settled.
 *
 * What tickets do not do: decide what runs. A stream reads in arrival order, cannot
 * filter by type, cannot skip a command not yet due and cannot drop a cancelled one, so
 * the order stays in the sorted sets (scripts/claim.ts): a claim pops the best ready
 * commands whatever tickets it holds, and acknowledges tickets it has no command for.
 * Ticket counts therefore cannot drift into starvation: a lost ticket (a crash between
 * read and claim, a trimmed backlog) costs a wake-up, and the worker's poll still claims
 * the command; a spare ticket is acknowledged by the next claim.
 *
 * A known limit: a worker that runs only some types of a domain takes that domain's
 * tickets too, so wake-ups for the other types can wait for their workers' poll. Give
 * workers that split a domain by type their own domains for the lowest latency.
 */

/**
 * How long one blocking read waits before the reader checks that its worker still wants
 * it; also the longest a claim waits for work in one call. The reader's connection allows
 * this much silence on top of the store timeout before it takes itself for dead.
 */
const BLOCK_MS = 2000;
/** A worker silent for 3x its last gap between claims (within these bounds) has stopped. */
const MIN_STALE_MS = 5000;
const MAX_STALE_MS = 10 * 60_000;
/** Back-off after a failed read (the client reconnects by itself meanwhile). */
const RETRY_MS = 1000;
/** How often, and how many times, a stopping worker's blocked read is unblocked until it returns. */
const UNBLOCK_EVERY_MS = 20;
const UNBLOCK_TRIES = 100;

/** Creates the domain's consumer group (and stream). Safe when many workers start at once. */
export async function ensureTicketGroup(client: Redis, stream: string): Promise<void> {
  try {
    await client.xgroup('CREATE', stream, TICKET_GROUP, '0', 'MKSTREAM');
  } catch (error) {
    // Another worker created it first: that is success.
    if (!(error instanceof Error && error.message.startsWith('BUSYGROUP'))) throw error;
  }
}

type StreamReply = [string, [string, string[]][]][] | null;

/** The tickets a blocking read got, and the replies of the commands run right after it. */
export interface AfterRead {
  tickets: string[];
  replies: unknown[];
}

/** The blocking readers of this process, one per worker id, and the wake-up listeners. */
export class TicketDelivery {
  private readonly listeners = new Set<WakeListener>();
  private readonly readers = new Map<string, TicketReader>();
  private readonly grouped = new Set<string>();

  constructor(
    readonly client: Redis,
    readonly keysOf: (domain: string) => DomainKeys,
    readonly onError: (error: Error) => void,
  ) {}

  subscribe(listener: WakeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  notify(domain: string): void {
    for (const listener of this.listeners) listener(domain);
  }

  async ensureGroup(domain: string): Promise<void> {
    if (this.grouped.has(domain)) return;
    await ensureTicketGroup(this.client, this.keysOf(domain).stream);
    this.grouped.add(domain);
  }

  forgetGroups(): void {
    this.grouped.clear();
  }

  /** Tickets the worker's blocking read took for this domain (up to `limit`), for its claim. */
  take(workerId: string, domain: string, limit: number): string[] {
    return this.readers.get(workerId)?.take(domain, limit) ?? [];
  }

  /** Tickets taken for a claim that failed: its next claim uses them. */
  giveBack(workerId: string, domain: string, tickets: string[]): void {
    if (tickets.length > 0) this.readers.get(workerId)?.giveBack(domain, tickets);
  }

  /**
   * After each claim: one that got less than it asked arms the worker's blocking read,
   * unless the worker waits by claiming (`arm` false).
   */
  claimed(workerId: string, domain: string, asked: number, got: number, arm = true): void {
    this.readerOf(workerId).claimed(domain, asked, arm && got < asked);
  }

  /**
   * A blocking read of the domain's tickets for the worker, and `then`'s commands right
   * after it in one pipeline on the worker's connection: Redis runs them as soon as the
   * read returns (a ticket came, or `waitMs` passed), with no round trip in between.
   * `signal` ends the wait early (CLIENT UNBLOCK).
   */
  async afterRead(
    workerId: string,
    domain: string,
    read: { count: number; waitMs: number; signal?: AbortSignal },
    then: (pipeline: ChainableCommander) => void,
  ): Promise<AfterRead> {
    await this.ensureGroup(domain);
    return this.readerOf(workerId).afterRead(domain, read, then);
  }

  private readerOf(workerId: string): TicketReader {
    let reader = this.readers.get(workerId);
    if (!reader) {
      reader = new TicketReader(workerId, this, () => this.readers.delete(workerId));
      this.readers.set(workerId, reader);
    }
    return reader;
  }

  close(): void {
    for (const reader of this.readers.values()) reader.stop();
    this.readers.clear();
    this.listeners.clear();
  }
}

/**
 * One worker's blocking read over the streams of the domains it claims from. It reads
 * only while its worker is hungry (its last claim got less than it asked) and has used
 * what was read before, so a busy worker leaves new tickets to idle ones. A worker that
 * stops claiming is taken for stopped: the reader closes its connection and goes.
 */
class TicketReader {
  private readonly domains = new Set<string>();
  private readonly held = new Map<string, string[]>();
  private hungry = false;
  private count = 1;
  private lastClaimAt = Date.now();
  private staleAfterMs = MIN_STALE_MS;
  private connection: Redis | null = null;
  /** The connection's id on the server, for CLIENT UNBLOCK (it changes on reconnect). */
  private connectionId: Promise<number | null> | null = null;
  /** Reads run after by the worker (afterRead) still going. */
  private reading = 0;
  private resume: (() => void) | null = null;
  private stopped = false;

  constructor(
    private readonly workerId: string,
    private readonly delivery: TicketDelivery,
    private readonly onGone: () => void,
  ) {
    void this.run();
  }

  /** `hungry`: the claim got less than it asked, so the reader should read. */
  claimed(domain: string, asked: number, hungry: boolean): void {
    const now = Date.now();
    const gap = now - this.lastClaimAt;
    this.staleAfterMs = Math.min(MAX_STALE_MS, Math.max(MIN_STALE_MS, 3 * gap));
    this.lastClaimAt = now;
    this.domains.add(domain);
    this.count = Math.max(1, asked);
    this.hungry = hungry;
    if (this.hungry) this.wake();
  }

  take(domain: string, limit: number): string[] {
    const held = this.held.get(domain);
    if (!held || held.length === 0) return [];
    const taken = held.splice(0, limit);
    if (held.length === 0) this.held.delete(domain);
    return taken;
  }

  giveBack(domain: string, tickets: string[]): void {
    this.held.set(domain, [...tickets, ...(this.held.get(domain) ?? [])]);
  }

  stop(): void {
    this.stopped = true;
    this.wake();
    this.connection?.disconnect();
    this.connection = null;
  }

  private wake(): void {
    const resume = this.resume;
    this.resume = null;
    resume?.();
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.wake(), ms);
      timer.unref();
      this.resume = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private get stale(): boolean {
    return this.reading === 0 && Date.now() - this.lastClaimAt > this.staleAfterMs;
  }

  async afterRead(
    domain: string,
    read: { count: number; waitMs: number; signal?: AbortSignal },
    then: (pipeline: ChainableCommander) => void,
  ): Promise<AfterRead> {
    const stream = this.delivery.keysOf(domain).stream;
    const pipeline = this.connect().pipeline();
    const waitMs = Math.min(read.waitMs, BLOCK_MS);
    pipeline.xreadgroup(...this.blockingRead([stream], read.count, waitMs));
    then(pipeline);
    this.reading++;
    let returned = false;
    const done = pipeline.exec().finally(() => {
      returned = true;
      this.reading--;
      this.lastClaimAt = Date.now();
    });
    const unblock = () => void this.unblock(() => returned);
    read.signal?.addEventListener('abort', unblock, { once: true });
    // the worker may have begun to stop while the read was being set up
    if (read.signal?.aborted) unblock();
    let replies: [Error | null, unknown][] | null;
    try {
      replies = await done;
    } finally {
      read.signal?.removeEventListener('abort', unblock);
    }
    if (!replies) throw new Error('the pipeline after a blocking read was aborted');
    const [[readError, reply] = [null, null], ...rest] = replies;
    const tickets: string[] = [];
    if (readError) {
      this.readFailed(readError);
    } else {
      for (const [, entries] of (reply as StreamReply) ?? [])
        for (const [id] of entries) tickets.push(id);
    }
    return {
      tickets,
      replies: rest.map(([error, value]) => {
        if (error) throw error;
        return value;
      }),
    };
  }

  /** XREADGROUP's arguments: up to `count` new tickets of `streams`, waiting up to `blockMs`. */
  private blockingRead(streams: string[], count: number, blockMs: number) {
    return [
      'GROUP',
      TICKET_GROUP,
      this.workerId,
      'COUNT',
      count,
      'BLOCK',
      blockMs,
      'STREAMS',
      ...streams,
      ...streams.map(() => '>'),
    ] as const;
  }

  /**
   * Unblocks this reader's connection until its read has returned: the read may not have
   * reached the server yet when the first CLIENT UNBLOCK does.
   */
  private async unblock(returned: () => boolean): Promise<void> {
    for (let i = 0; i < UNBLOCK_TRIES && !returned(); i++) {
      try {
        const id = await this.connectionId;
        if (id !== null) await this.delivery.client.client('UNBLOCK', id);
      } catch (error) {
        this.delivery.onError(error as Error);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, UNBLOCK_EVERY_MS));
    }
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      if (this.stale) {
        this.stop();
        this.onGone();
        return;
      }
      if (!this.hungry || this.held.size > 0) {
        await this.pause(this.staleAfterMs);
        continue;
      }
      try {
        await this.readOnce();
      } catch (error) {
        if (this.stopped) return;
        const failure = error instanceof Error ? error : new Error(String(error));
        if (!this.readFailed(failure)) await this.pause(RETRY_MS);
      }
    }
  }

  /**
   * What a failed read means. NOGROUP: the stream or its group is gone (a flush, a key
   * expired), so the groups are made again on the next read, at once (true). Anything
   * else is reported, and worth a pause before reading again (false).
   */
  private readFailed(error: Error): boolean {
    if (error.message.includes('NOGROUP')) {
      this.delivery.forgetGroups();
      return true;
    }
    this.delivery.onError(error);
    return false;
  }

  private async readOnce(): Promise<void> {
    const domains = [...this.domains];
    for (const domain of domains) await this.delivery.ensureGroup(domain);
    const streams = domains.map((d) => this.delivery.keysOf(d).stream);
    const reply = (await this.connect().xreadgroup(
      ...this.blockingRead(streams, this.count, BLOCK_MS),
    )) as StreamReply;
    if (!reply || this.stopped) return;
    this.hungry = false;
    for (const [stream, entries] of reply) {
      const domain = domains[streams.indexOf(stream)];
      if (domain === undefined || entries.length === 0) continue;
      const held = this.held.get(domain) ?? [];
      for (const [id] of entries) held.push(id);
      this.held.set(domain, held);
      this.delivery.notify(domain);
    }
  }

  /**
   * A connection of its own: a blocked read holds its connection. After a reconnect,
   * every listener is woken once ('' = any domain), as tickets may have come meanwhile.
   */
  private connect(): Redis {
    if (this.connection) return this.connection;
    const { socketTimeout } = this.delivery.client.options;
    const connection = this.delivery.client.duplicate({
      connectionName: 'dispatchbox-tickets',
      lazyConnect: false,
      // a read blocks up to BLOCK_MS with nothing coming back, and that is no dead socket
      socketTimeout: socketTimeout === undefined ? undefined : socketTimeout + BLOCK_MS,
    });
    let connected = false;
    connection.on('error', (error: Error) => this.delivery.onError(error));
    connection.on('ready', () => {
      if (connected) {
        this.connectionId = idOf(connection);
        this.delivery.notify('');
      }
      connected = true;
    });
    defineScripts(connection);
    this.connectionId = idOf(connection);
    this.connection = connection;
    return connection;
  }
}

/** The connection's id, or null when it cannot be had (the connection failed: nothing to unblock). */
function idOf(connection: Redis): Promise<number | null> {
  return connection.client('ID').catch(() => null);
}
