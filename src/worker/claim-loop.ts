import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Backend, HandlerMaxAttempts } from '../backends/backend.js';
import type { ClaimedCommand } from '../core/command.js';
import { ConfigurationError } from '../core/errors.js';
import type { HandlerRegistry } from '../core/registry.js';
import { DEFAULT_RETRY_POLICY } from '../core/retry.js';
import { sleep, storeRetryDelay } from './backoff.js';
import { logFailure } from '../core/log-safely.js';
import type { StoreHealth } from './event-source.js';

/** One claim target: a domain, and the types of it this worker runs (null: all). */
export interface ClaimTarget {
  domain: string;
  types: string[] | null;
  /** What this worker's handlers of the domain allow, for sends that named no maxAttempts. */
  handlerMaxAttempts: HandlerMaxAttempts;
}

/** What a worker claims from: its domains (default: every registered one), narrowed by types. */
export function claimPlan(
  registry: HandlerRegistry,
  domains?: string[],
  types?: string[],
): ClaimTarget[] {
  const chosen = domains ?? registry.domains();
  if (chosen.length === 0) {
    throw new ConfigurationError(
      'the worker has no domain to claim from: register a handler first, or pass domains',
    );
  }
  return chosen
    .map((domain) => ({
      domain,
      types: types ? types.filter((t) => registry.get(domain, t)) : null,
      handlerMaxAttempts: handlerMaxAttempts(registry, domain),
    }))
    .filter((p) => p.types === null || p.types.length > 0);
}

/**
 * The max attempts of each handler of `domain` that differs from the default; a type
 * without a handler here gets the default too (it goes to troubleshooting on its claim).
 */
export function handlerMaxAttempts(registry: HandlerRegistry, domain: string): HandlerMaxAttempts {
  const fallback = DEFAULT_RETRY_POLICY.maxAttempts;
  const policy: HandlerMaxAttempts = { types: [], limits: [], fallback };
  for (const handler of registry.all()) {
    if (handler.domain !== domain || handler.retryPolicy.maxAttempts === fallback) continue;
    policy.types.push(handler.type);
    policy.limits.push(handler.retryPolicy.maxAttempts);
  }
  return policy;
}

export interface ClaimLoopOptions {
  backend: Backend;
  workerId: string;
  leaseMs: number;
  pollIntervalMs: number;
  claimBatchSize: number;
  logger: Logger;
  plan: ClaimTarget[];
  /** How many more commands the worker wants now, and the least worth a claim. */
  room: () => { room: number; threshold: number };
  /** `sentAt`: when the claim was sent (local clock); its leases start no earlier. */
  onClaimed: (commands: ClaimedCommand[], sentAt: number) => void;
  /** Called after each claim round, so the worker can tell whether it is idle. */
  onRoundDone: () => void;
  /** Types of a domain not to claim for now (commands of them wait in the worker). */
  skippedTypes?: (domain: string) => ReadonlyMap<string, unknown> | undefined;
  /** The types of a domain this worker has handlers for. */
  registeredTypes?: (domain: string) => string[];
  /** Claims wait while more than `max` outcomes are unwritten (see holdWhileBacklogged). */
  backlog?: { outcomes: OutcomeBacklog; max: number };
  /** Told whether each claim round reaches the store (storeDown and storeUp events). */
  health?: StoreHealth | undefined;
}

/** The completer, as the claim loop sees it. */
export interface OutcomeBacklog {
  /** Outcomes queued or being written. */
  readonly size: number;
  /** Resolves once fewer than `below` outcomes are queued or being written. */
  whenBelow(below: number): Promise<void>;
}

/**
 * The worker's only reader of the store: claims whenever there is room, round-robin over
 * its domains, then sleeps until a wake-up (a send, a freed slot) or the poll interval.
 * While the store is away it backs off and tries again; nothing is lost meanwhile.
 */
export class ClaimLoop {
  /** A claim is on its way: the worker is not idle even with nothing running yet. */
  claiming = false;
  private woken = false;
  private waiter: (() => void) | null = null;
  private stopped = false;
  private readonly stopSignal = new AbortController();
  private running: Promise<void> | null = null;

  constructor(private readonly o: ClaimLoopOptions) {}

  start(): void {
    // run() answers failures inside its loop; this is the last guard of the process
    this.running = this.run().catch((error: unknown) =>
      logFailure(this.o.logger, 'error', {}, error, 'the claim loop stopped'),
    );
  }

  watches(domain: string): boolean {
    return this.o.plan.some((p) => p.domain === domain);
  }

  /** Wakes the loop: `wake` means new work may be waiting in the store. */
  nudge(wake = false): void {
    if (wake) this.woken = true;
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopSignal.abort();
    this.nudge();
    await this.running;
  }

  /**
   * Sleeps until nudged or `timeoutMs`. Not at all once stopped: stop() nudges once, and a
   * claim on its way then returns into this wait with no one left to nudge it, which held
   * the worker's stop for the whole poll interval (a minute, in a test that set one).
   */
  private wait(timeoutMs: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.waiter === done) this.waiter = null;
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.waiter = done;
    });
  }

  /**
   * A worker of one domain on a store whose claims can wait (Redis) waits by claiming: the
   * store blocks the claim until a command is ready and claims it in the same round trip,
   * where a wake-up and then a claim take two. With several domains one claim cannot wait
   * on all of them, so the worker sleeps until a wake-up instead.
   */
  private get waitsByClaiming(): boolean {
    return this.o.backend.capabilities.waitingClaims && this.o.plan.length === 1;
  }

  /**
   * The target's types less the skipped ones. Leaving types out needs them named, so while
   * a type is skipped a worker of every type of its domain claims the registered ones
   * only: a command of a type without a handler waits until then to be found.
   */
  private typesFor(target: ClaimTarget): string[] | null {
    const skip = this.o.skippedTypes?.(target.domain);
    if (!skip || skip.size === 0 || !this.o.registeredTypes) return target.types;
    return (target.types ?? this.o.registeredTypes(target.domain)).filter((t) => !skip.has(t));
  }

  /**
   * Outcomes are written in batches (Completer), and while the store is slow or away they
   * wait in memory. Claiming on would only add to them (each claimed command soon becomes
   * one more) and take leases the worker may not get to renew: over `max`, claims wait
   * until half are written, so a burst of writes does not start and stop claims at every
   * flush. Resolves to true when it held.
   */
  private async holdWhileBacklogged(): Promise<boolean> {
    const backlog = this.o.backlog;
    if (!backlog || backlog.outcomes.size <= backlog.max) return false;
    const since = Date.now();
    const fields = { unwritten: backlog.outcomes.size, max: backlog.max };
    try {
      this.o.logger.warn(fields, 'holding claims: outcomes wait to be written to the store');
    } catch {
      // a logger that fails does not change the hold
    }
    const signal = this.stopSignal.signal;
    let onStop!: () => void;
    const stopped = new Promise<void>((resolve) => {
      onStop = resolve;
      signal.addEventListener('abort', onStop, { once: true });
    });
    try {
      await Promise.race([
        backlog.outcomes.whenBelow(Math.max(1, Math.ceil(backlog.max / 2))),
        stopped,
      ]);
    } finally {
      signal.removeEventListener('abort', onStop);
    }
    if (this.stopped) return true;
    try {
      const heldMs = Date.now() - since;
      this.o.logger.info({ unwritten: backlog.outcomes.size, heldMs }, 'claims resume');
    } catch {
      // as above
    }
    return true;
  }

  private async run(): Promise<void> {
    let failures = 0;
    let turn = 0;
    // the last round got less than it asked: nothing more is ready now
    let caughtUp = false;
    const waits = this.waitsByClaiming;
    while (!this.stopped) {
      if (await this.holdWhileBacklogged()) continue;
      let asked = 0;
      let got = 0;
      try {
        const { room, threshold } = this.o.room();
        if (room < threshold) {
          await this.wait(this.o.pollIntervalMs);
          continue;
        }
        this.woken = false;
        // A waiting claim's leases are reckoned from its send (LeaseKeeper), so it waits a
        // third of the lease at most.
        const waitMs = waits
          ? caughtUp
            ? Math.min(this.o.pollIntervalMs, this.o.leaseMs / 3)
            : 0
          : undefined;
        // a claim waiting for work is the worker being idle
        this.claiming = !waitMs;
        for (let i = 0; i < this.o.plan.length && got < room && !this.stopped; i++) {
          const target = this.o.plan[(turn + i) % this.o.plan.length]!;
          const types = this.typesFor(target);
          if (types && types.length === 0) continue;
          const limit = Math.min(this.o.claimBatchSize, room - got);
          asked += limit;
          const sentAt = Date.now();
          const claimed = await this.o.backend.claim({
            workerId: this.o.workerId,
            domain: target.domain,
            types,
            limit,
            leaseMs: this.o.leaseMs,
            leaseToken: randomUUID(),
            handlerMaxAttempts: target.handlerMaxAttempts,
            ...(waits ? { waitMs, signal: this.stopSignal.signal } : {}),
          });
          got += claimed.length;
          this.o.onClaimed(claimed, sentAt);
        }
        turn++;
        failures = 0;
        this.o.health?.ok();
        this.claiming = false;
        caughtUp = got < asked;
        this.o.onRoundDone();
      } catch (error) {
        this.claiming = false;
        caughtUp = false;
        failures++;
        this.o.health?.failed(error);
        logFailure(
          this.o.logger,
          'error',
          { failures },
          error,
          'cannot claim commands from the store; retrying',
        );
        await sleep(storeRetryDelay(failures), this.stopSignal.signal);
        continue;
      }
      // a waiting claim has done the waiting; a round that skipped every type asked nothing
      // and waits for the worker to free one (it nudges) or for the poll
      if (asked === 0 && !this.woken) await this.wait(this.o.pollIntervalMs);
      else if (caughtUp && !this.woken && !waits) await this.wait(this.o.pollIntervalMs);
    }
  }
}
