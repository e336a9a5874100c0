import type { Logger } from 'pino';
import type { CommandError } from './command.js';
import { ConfigurationError } from './errors.js';
import { logFailure } from './log-safely.js';

// ---- the events ------------------------------------------------------------------------

/** What every event about one attempt of one command carries. */
export interface CommandEvent {
  /** The worker that ran (or held) the command. */
  workerId: string;
  commandId: string;
  domain: string;
  type: string;
  /** The attempt this is about (1 for the first). */
  attempt: number;
}

/**
 * An outcome written to the store. `durationMs` is how long the handler ran; null when no
 * handler ran (no handler registered, handed back at shutdown) or when the run started
 * before the worker had any listener.
 */
export interface SettledEvent extends CommandEvent {
  durationMs: number | null;
}

/** The store operations whose failures the worker reports: claims and outcome writes. */
export type StoreOperation = 'claim' | 'settle';

/** The events of a Worker, by name: `worker.events.on(name, (event) => …)`. */
export interface WorkerEventMap {
  /** An attempt starts: the handler is about to run (after any rate limit let it through). */
  started: CommandEvent;
  /** The command's completion is written (or committed with the handler's transaction). */
  completed: SettledEvent;
  /**
   * The handler failed with a transient error and attempts are left: it will be retried
   * after `retryInMs`. Fires when the run ends; `retried` follows once that is written.
   */
  failed: CommandEvent & { durationMs: number; error: CommandError; retryInMs: number };
  /** A retry is written: the command waits `delayMs`, then runs again. */
  retried: SettledEvent & { delayMs: number; error: CommandError };
  /** The command is written to troubleshooting: a permanent error, or attempts exhausted. */
  troubleshooting: SettledEvent & { error: CommandError };
  /**
   * The command is written back to pending without spending the attempt: a snooze, a rate
   * limit, the store failing around the handler, a shutdown hand-back (`reason` says which).
   */
  released: SettledEvent & { delayMs: number; reason: string };
  /**
   * The store refused an outcome of this worker as late: the lease had expired and another
   * attempt owns the command. `outcome` is what this worker tried to write.
   */
  stale: SettledEvent & { outcome: 'complete' | 'retry' | 'troubleshoot' | 'release' };
  /**
   * The worker lost the command's lease (the store no longer holds it for this worker, or
   * no renewal got through for a whole lease): a running handler is aborted and its outcome
   * not written; a command not started yet is dropped. `running`: a handler was running.
   */
  leaseLost: CommandEvent & { durationMs: number | null; running: boolean };
  /**
   * A rate limit or global concurrency cap refused the attempt (no attempt spent). `held`:
   * the worker keeps the command until `delayMs` has passed; otherwise it is released.
   */
  rateLimited: CommandEvent & { delayMs: number; reason: string; held: boolean };
  /**
   * A claim brought `count` commands (at least one) of `domain` into the worker: the claim
   * batch size. Claims that found nothing are not told.
   */
  claimed: { workerId: string; domain: string; count: number };
  /**
   * This worker's lease recovery (a maintenance service) gave back `count` commands whose
   * lease had expired, whoever held them: to pending, or to troubleshooting when no
   * attempt was left. Told only when it recovered some.
   */
  leasesRecovered: { workerId: string; count: number };
  /** Claims or outcome writes started failing; the worker retries them with a backoff. */
  storeDown: { workerId: string; operation: StoreOperation; error: CommandError };
  /** Claims or outcome writes succeed again after `failures` failed calls over `downMs`. */
  storeUp: { workerId: string; operation: StoreOperation; downMs: number; failures: number };
}

export type WorkerEventName = keyof WorkerEventMap;

export const WORKER_EVENT_NAMES: readonly WorkerEventName[] = [
  'started',
  'completed',
  'failed',
  'retried',
  'troubleshooting',
  'released',
  'stale',
  'leaseLost',
  'rateLimited',
  'claimed',
  'leasesRecovered',
  'storeDown',
  'storeUp',
];

/** A command the bus stored, as its `sent` event names it. */
export interface SentCommand {
  id: string;
  domain: string;
  type: string;
  correlationId: string | null;
  batchId: string | null;
}

/** The events of a CommandBus, by name: `bus.events.on(name, (event) => …)`. */
export interface BusEventMap {
  /**
   * Commands were stored by one `send`, `sendMany` or `createBatch` (a repeated id or
   * idempotency key stores nothing and is left out). `inTransaction`: written in the
   * application's transaction, so stored only once it commits. `durationMs`: from the
   * call to the store's acknowledgement (its reply that the commands are stored).
   */
  sent: {
    count: number;
    commands: readonly SentCommand[];
    inTransaction: boolean;
    durationMs: number;
  };
}

export type BusEventName = keyof BusEventMap;

export const BUS_EVENT_NAMES: readonly BusEventName[] = ['sent'];

// ---- the emitter -----------------------------------------------------------------------

type Listener<E> = ((event: E) => unknown) & { original?: (event: E) => unknown };

/**
 * A typed event emitter whose emitting side costs nothing while nobody listens: the
 * source asks `listening(name)` before it builds an event. Every listener is called on
 * its own; one that throws (or returns a promise that rejects) is logged and the others
 * and the source go on. Names are checked when a listener is added, so a misspelt one
 * fails at once rather than never firing.
 */
export class TypedEvents<M extends object> {
  // Arrays are replaced, never changed in place: emit walks one without copying it, and a
  // listener that adds or removes listeners changes the next emit, not the current one.
  private readonly listeners: { [K in keyof M]?: Listener<M[K]>[] } = {};
  private total = 0;

  constructor(
    private readonly logger: Logger,
    private readonly names: readonly (keyof M & string)[],
    /** Names the emitter in logs: 'worker', 'bus'. */
    private readonly source: string,
  ) {}

  /** Calls `listener` with every event named `name` from now on. */
  on<K extends keyof M & string>(name: K, listener: (event: M[K]) => unknown): this {
    this.check(name, listener);
    this.listeners[name] = [...(this.listeners[name] ?? []), listener];
    this.total++;
    return this;
  }

  /** Calls `listener` with the next event named `name` only. */
  once<K extends keyof M & string>(name: K, listener: (event: M[K]) => unknown): this {
    this.check(name, listener);
    const wrapper: Listener<M[K]> = (event: M[K]) => {
      this.off(name, wrapper);
      return listener(event);
    };
    // so that off(name, listener) removes it before it has fired
    wrapper.original = listener;
    return this.on(name, wrapper);
  }

  /** Removes `listener` (added with `on` or `once`) from `name`; nothing when it is not there. */
  off<K extends keyof M & string>(name: K, listener: (event: M[K]) => unknown): this {
    const list = this.listeners[name];
    const index = list ? list.findLastIndex((l) => l === listener || l.original === listener) : -1;
    if (!list || index < 0) return this;
    const rest = list.filter((_, i) => i !== index);
    if (rest.length === 0) delete this.listeners[name];
    else this.listeners[name] = rest;
    this.total--;
    return this;
  }

  listenerCount(name: keyof M & string): number {
    return this.listeners[name]?.length ?? 0;
  }

  /** True when someone listens to `name` (or, without a name, to anything). */
  listening(name?: keyof M): boolean {
    return name === undefined ? this.total > 0 : this.listeners[name] !== undefined;
  }

  /** Calls every listener of `name` with `event`; never throws. For the event's source. */
  protected emit<K extends keyof M & string>(name: K, event: M[K]): void {
    const list = this.listeners[name];
    if (!list) return;
    for (const listener of list) {
      try {
        const returned = listener(event);
        if (returned instanceof Promise) {
          returned.catch((error: unknown) => this.listenerFailed(name, error));
        }
      } catch (error) {
        this.listenerFailed(name, error);
      }
    }
  }

  private listenerFailed(name: string, error: unknown): void {
    // a listener's failure is the application's: what emitted the event goes on
    logFailure(
      this.logger,
      'error',
      { event: name },
      error,
      `a listener of ${this.source} event '${name}' threw`,
    );
  }

  private check(name: unknown, listener: unknown): void {
    if (!this.names.includes(name as keyof M & string)) {
      throw new ConfigurationError(
        `there is no ${this.source} event named ${JSON.stringify(name)}; the events are ${this.names.join(', ')}`,
      );
    }
    if (typeof listener !== 'function') {
      throw new ConfigurationError(
        `the listener of ${this.source} event '${String(name)}' must be a function; got ${listener === null ? 'null' : typeof listener}`,
      );
    }
  }
}
