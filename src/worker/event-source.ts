import type { Logger } from 'pino';
import type { Settlement } from '../backends/backend.js';
import type { ClaimedCommand } from '../core/command.js';
import { describeError } from '../core/describe-error.js';
import {
  TypedEvents,
  WORKER_EVENT_NAMES,
  type CommandEvent,
  type StoreOperation,
  type WorkerEventMap,
} from '../core/events.js';
import type { WorkerStats } from './options.js';
import type { ThroughputSampler } from './throughput.js';

/** The events a worker's listeners see: `worker.events`. */
export type WorkerEvents = TypedEvents<WorkerEventMap>;

/** Where a queued settlement came from: its command, and how long its handler ran. */
export interface SettlementSource {
  readonly command: ClaimedCommand;
  readonly durationMs: number | null;
}

/** Told by the claim loop and the completer whether their store calls get through. */
export interface StoreHealth {
  failed(error: unknown): void;
  ok(): void;
}

/**
 * The worker's side of its events. The execution code calls one method per thing that
 * happened, with what it has at hand; the method counts it into `stats` (the built-in
 * subscriber, which needs no event object) and builds an event object only when someone
 * listens to that name. With no listener, an event costs a counter increment and a
 * property read: no allocation per command.
 */
export class WorkerEventSource extends TypedEvents<WorkerEventMap> {
  private readonly down: Record<StoreOperation, { since: number; failures: number } | null> = {
    claim: null,
    settle: null,
  };
  /** Where each queued settlement came from, kept only while someone listens. */
  private readonly sources = new WeakMap<Settlement, SettlementSource>();
  /** What the claim loop and the completer report their store calls to. */
  readonly claimHealth: StoreHealth = this.health('claim');
  readonly settleHealth: StoreHealth = this.health('settle');
  /** Counts each written outcome per domain for the throughput samples; null when off. */
  samples: ThroughputSampler | null = null;

  constructor(
    logger: Logger,
    private readonly workerId: string,
    private readonly stats: WorkerStats,
  ) {
    super(logger, WORKER_EVENT_NAMES, 'worker');
  }

  started(command: ClaimedCommand): void {
    this.stats.started++;
    if (this.listening('started')) this.emit('started', this.about(command));
  }

  /** A transient failure the retry policy will retry: told when the run ends. */
  failed(source: SettlementSource, settlement: Settlement & { kind: 'retry' }): void {
    if (!this.listening('failed')) return;
    this.emit('failed', {
      ...this.about(source.command),
      durationMs: source.durationMs ?? 0,
      error: settlement.error,
      retryInMs: settlement.delayMs,
    });
  }

  /**
   * A settlement queued for writing; `run` is the run it ends (null: no handler ran).
   * Remembered for its events only while someone listens: a listener added later hears
   * of the settlements queued from then on (and counts in stats from the start).
   */
  queued(settlement: Settlement, command: ClaimedCommand, run: SettlementSource | null): void {
    if (this.listening()) this.sources.set(settlement, run ?? { command, durationMs: null });
  }

  /** A queued settlement the store applied, or `refused` as stale. */
  written(settlement: Settlement, refused: boolean): void {
    const source = this.listening() ? this.sources.get(settlement) : undefined;
    // Forgotten at once rather than when the settlement is collected: a weak entry lives
    // until a full collection, and kept every drained command (payload and all) that long.
    if (source) this.sources.delete(settlement);
    if (refused) this.stale(settlement.kind, source);
    else this.applied(settlement, source);
  }

  private applied(settlement: Settlement, source: SettlementSource | undefined): void {
    switch (settlement.kind) {
      case 'complete':
        return this.completed(source, settlement.domain);
      case 'retry':
        this.stats.retried++;
        if (this.samples && settlement.domain !== undefined)
          this.samples.retried(settlement.domain);
        if (source && this.listening('retried')) {
          this.emit('retried', {
            ...this.settled(source),
            delayMs: settlement.delayMs,
            error: settlement.error,
          });
        }
        return;
      case 'troubleshoot':
        this.stats.troubleshooting++;
        if (this.samples && settlement.domain !== undefined)
          this.samples.troubleshooting(settlement.domain);
        if (source && this.listening('troubleshooting')) {
          this.emit('troubleshooting', { ...this.settled(source), error: settlement.error });
        }
        return;
      case 'release':
        this.stats.released++;
        if (source && this.listening('released')) {
          this.emit('released', {
            ...this.settled(source),
            delayMs: settlement.delayMs,
            reason: settlement.reason,
          });
        }
        return;
    }
  }

  /** A completion written: by a batch of settlements, or with the handler's transaction. */
  completed(source: SettlementSource | undefined, domain: string | undefined): void {
    this.stats.completed++;
    if (this.samples && domain !== undefined) this.samples.completed(domain);
    if (source && this.listening('completed')) this.emit('completed', this.settled(source));
  }

  /** An outcome the store refused as late. */
  stale(outcome: Settlement['kind'], source: SettlementSource | undefined): void {
    this.stats.stale++;
    if (source && this.listening('stale')) this.emit('stale', { ...this.settled(source), outcome });
  }

  /** `startedAt`: when its handler started (performance.now()), null when it had not. */
  leaseLost(command: ClaimedCommand, startedAt: number | null): void {
    if (!this.listening('leaseLost')) return;
    this.emit('leaseLost', {
      ...this.about(command),
      durationMs: startedAt === null ? null : performance.now() - startedAt,
      running: startedAt !== null,
    });
  }

  rateLimited(command: ClaimedCommand, delayMs: number, reason: string, held: boolean): void {
    this.stats.limited++;
    if (this.listening('rateLimited')) {
      this.emit('rateLimited', { ...this.about(command), delayMs, reason, held });
    }
  }

  /** One claim's commands (of one domain); a claim that found nothing is not told. */
  claimed(commands: readonly ClaimedCommand[]): void {
    const first = commands[0];
    if (!first || !this.listening('claimed')) return;
    this.emit('claimed', { workerId: this.workerId, domain: first.domain, count: commands.length });
  }

  /** Commands whose lease had expired, given back by this worker's lease recovery. */
  leasesRecovered(count: number): void {
    if (count > 0 && this.listening('leasesRecovered')) {
      this.emit('leasesRecovered', { workerId: this.workerId, count });
    }
  }

  private health(operation: StoreOperation): StoreHealth {
    return {
      failed: (error) => {
        const down = this.down[operation];
        if (down) {
          down.failures++;
          return;
        }
        this.down[operation] = { since: performance.now(), failures: 1 };
        if (this.listening('storeDown')) {
          this.emit('storeDown', {
            workerId: this.workerId,
            operation,
            error: describeError(error),
          });
        }
      },
      ok: () => {
        const down = this.down[operation];
        if (!down) return;
        this.down[operation] = null;
        if (this.listening('storeUp')) {
          this.emit('storeUp', {
            workerId: this.workerId,
            operation,
            downMs: performance.now() - down.since,
            failures: down.failures,
          });
        }
      },
    };
  }

  private about(command: ClaimedCommand): CommandEvent {
    return {
      workerId: this.workerId,
      commandId: command.id,
      domain: command.domain,
      type: command.type,
      attempt: command.attempts,
    };
  }

  // Written out rather than spread from about(): one object of one shape, no copy (a
  // drain with metrics on builds one per command).
  private settled(source: SettlementSource): CommandEvent & { durationMs: number | null } {
    const command = source.command;
    return {
      workerId: this.workerId,
      commandId: command.id,
      domain: command.domain,
      type: command.type,
      attempt: command.attempts,
      durationMs: source.durationMs,
    };
  }
}
