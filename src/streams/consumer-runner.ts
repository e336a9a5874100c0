import type { Logger } from 'pino';
import type { DedupStore } from '../backends/roles/dedup.js';
import { describeError } from '../core/describe-error.js';
import { readEnvelope } from './codec.js';
import type { Envelope } from './envelope.js';
import { pause, type Outcome, type ReliabilityLayer } from './reliability.js';
import type { TransportConsumer, TransportMessage } from './transport.js';

export interface RunnerOptions {
  consumer: TransportConsumer;
  layer: ReliabilityLayer;
  dedup: { store: DedupStore; scope: string; ttlMs: number } | null;
  /** Handlers running at once (of different order keys). */
  concurrency: number;
  /** Messages fetched and not yet acknowledged: no more are read past it (backpressure). */
  maxInFlight: number;
  /** Messages asked for per fetch. */
  batchSize: number;
  /** How long one fetch waits for messages. */
  pollWaitMs: number;
  logger: Logger;
  /** Aborted when shutdown's time runs out (the reliability layer's signal). */
  abort: AbortController;
}

export interface RunnerStatus {
  running: boolean;
  /** The last fetch or acknowledgement failed (the server is unreachable); null once one succeeds. */
  lastError: string | null;
  inFlight: number;
}

interface Done {
  message: TransportMessage;
  /** The event id to remember as handled (only for handled messages). */
  handledId: string | null;
}

/**
 * The consume loop of one consumer: fetches while fewer than `maxInFlight` messages are
 * unacknowledged, skips the ones the dedup store has seen, runs the rest through the
 * reliability layer (one order key at a time, `concurrency` keys at once), and
 * acknowledges in batches after remembering the handled ids. A message is acknowledged
 * only after its handler succeeded or it was dead-lettered; on shutdown, what was not
 * finished stays unacknowledged and is delivered again.
 */
export class ConsumerRunner {
  private stopping = false;
  private loop: Promise<void> | null = null;
  private inFlight = 0;
  private running = 0;
  private readonly waitingForSlot: (() => void)[] = [];
  private readonly chains = new Map<string, Promise<void>>();
  /** Event ids being handled now: a second message of one (same batch, or redelivered meanwhile) is a duplicate. */
  private readonly active = new Set<string>();
  private readonly done: Done[] = [];
  private flushing: Promise<void> | null = null;
  private roomWaiter: (() => void) | null = null;
  private lastError: string | null = null;

  constructor(private readonly options: RunnerOptions) {}

  start(): void {
    this.loop ??= this.consumeLoop();
  }

  status(): RunnerStatus {
    return {
      running: this.loop !== null && !this.stopping,
      lastError: this.lastError,
      inFlight: this.inFlight,
    };
  }

  /**
   * Stops reading, lets running handlers finish for up to `graceMs` (then aborts their
   * signal), acknowledges what finished, and closes the consumer.
   */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    this.roomWaiter?.();
    await this.loop;
    const settled = Promise.all(this.chains.values()).then(() => true);
    const timer = new Promise<boolean>((resolve) =>
      setTimeout(() => resolve(false), graceMs).unref(),
    );
    if (!(await Promise.race([settled, timer]))) {
      this.options.abort.abort();
      await Promise.race([settled, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
    }
    const flushed = this.flush().then(() => true);
    const late = new Promise<boolean>((resolve) =>
      setTimeout(() => resolve(false), graceMs).unref(),
    );
    if (!(await Promise.race([flushed, late]))) this.options.abort.abort();
    await flushed;
    await this.options.consumer.close();
  }

  private async consumeLoop(): Promise<void> {
    const { consumer, batchSize, maxInFlight, pollWaitMs, logger } = this.options;
    let failures = 0;
    while (!this.stopping) {
      const room = maxInFlight - this.inFlight;
      if (room <= 0) {
        await new Promise<void>((resolve) => (this.roomWaiter = resolve));
        this.roomWaiter = null;
        continue;
      }
      let batch: TransportMessage[];
      try {
        batch = await consumer.fetch(Math.min(batchSize, room), pollWaitMs);
        failures = 0;
        this.lastError = null;
      } catch (error) {
        failures += 1;
        this.lastError = describeError(error).message;
        if (failures === 1 || failures % 20 === 0) {
          logger.warn({ err: describeError(error), failures }, 'stream fetch failed; trying again');
        }
        await pause(Math.min(5000, 50 * 2 ** Math.min(failures, 7)), this.options.abort.signal);
        continue;
      }
      if (batch.length > 0) await this.dispatch(batch);
    }
  }

  private async dispatch(batch: TransportMessage[]): Promise<void> {
    this.inFlight += batch.length;
    const envelopes = batch.map((message): Envelope | Error => {
      try {
        return readEnvelope(message);
      } catch (error) {
        return error as Error;
      }
    });
    const seen = await this.seen(envelopes);
    batch.forEach((message, i) => {
      const envelope = envelopes[i]!;
      if (!(envelope instanceof Error)) {
        if (seen.has(envelope.id) || this.active.has(envelope.id)) {
          this.options.layer.countDuplicate();
          this.finish({ message, handledId: null });
          return;
        }
        if (this.options.dedup) this.active.add(envelope.id);
      }
      const previous = this.chains.get(message.orderKey) ?? Promise.resolve();
      const next = previous.then(() => this.run(message, envelope));
      this.chains.set(message.orderKey, next);
      // then(f, f) rather than finally(f): finally makes three promises per message
      const forget = () => {
        if (this.chains.get(message.orderKey) === next) this.chains.delete(message.orderKey);
      };
      void next.then(forget, forget);
    });
  }

  /** Ids the dedup store has seen; none when it has no store or cannot be reached (at least once holds). */
  private async seen(envelopes: (Envelope | Error)[]): Promise<Set<string>> {
    const dedup = this.options.dedup;
    if (!dedup) return new Set();
    const ids = envelopes.flatMap((e) => (e instanceof Error ? [] : [e.id]));
    try {
      return await dedup.store.seenEvents(dedup.scope, ids);
    } catch (error) {
      this.options.logger.warn(
        { err: describeError(error) },
        'dedup store unreachable: handling the batch without deduplication',
      );
      return new Set();
    }
  }

  private async run(message: TransportMessage, envelope: Envelope | Error): Promise<void> {
    const waiting = this.slot();
    if (waiting) await waiting;
    let outcome: Outcome;
    try {
      outcome = await this.options.layer.process(message, envelope);
    } catch (error) {
      if (!(envelope instanceof Error)) this.active.delete(envelope.id);
      throw error;
    } finally {
      this.release();
    }
    // A handled id stays active until it is remembered (flushLoop), so a redelivery that
    // comes meanwhile is still known for a duplicate.
    if (outcome !== 'handled' && !(envelope instanceof Error)) this.active.delete(envelope.id);
    if (outcome === 'stopped') {
      this.inFlight -= 1; // left unacknowledged: delivered again
      return;
    }
    this.finish({
      message,
      handledId: outcome === 'handled' && !(envelope instanceof Error) ? envelope.id : null,
    });
  }

  /** Takes a handler slot: null when one was free, else a promise of the next released. */
  private slot(): Promise<void> | null {
    if (this.running < this.options.concurrency) {
      this.running += 1;
      return null;
    }
    return new Promise<void>((resolve) => this.waitingForSlot.push(resolve));
  }

  private release(): void {
    const next = this.waitingForSlot.shift();
    if (next) next();
    else this.running -= 1;
  }

  private finish(done: Done): void {
    this.done.push(done);
    if (!this.flushing)
      this.flushing = new Promise((resolve) => setImmediate(resolve)).then(() => this.flushLoop());
  }

  /** Waits until every finished message is acknowledged (or shutdown gives up on it). */
  private async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  private async flushLoop(): Promise<void> {
    let failures = 0;
    while (this.done.length > 0) {
      const batch = this.done.splice(0, 1000);
      try {
        const dedup = this.options.dedup;
        const handled = batch.flatMap((d) => (d.handledId ? [d.handledId] : []));
        // Remembered before acknowledged: a crash in between redelivers a message the
        // dedup store already knows, which is then skipped.
        if (dedup && handled.length > 0)
          await dedup.store.rememberEvents(dedup.scope, handled, dedup.ttlMs);
        await this.options.consumer.ack(batch.map((d) => d.message));
        for (const id of handled) this.active.delete(id);
        failures = 0;
        this.inFlight -= batch.length;
        this.roomWaiter?.();
      } catch (error) {
        this.done.unshift(...batch);
        failures += 1;
        this.lastError = describeError(error).message;
        if (failures === 1 || failures % 20 === 0) {
          this.options.logger.warn(
            { err: describeError(error), failures },
            'stream acknowledgement failed; trying again',
          );
        }
        if (
          !(await pause(Math.min(5000, 50 * 2 ** Math.min(failures, 7)), this.options.abort.signal))
        ) {
          // shutdown gave up: what is not acknowledged is delivered again
          this.inFlight -= this.done.length;
          this.done.length = 0;
          this.active.clear();
        }
      }
    }
    this.flushing = null;
  }
}
