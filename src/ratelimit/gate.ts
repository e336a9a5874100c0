import { logFailure } from '../core/log-safely.js';
/**
 * The worker's side of rate limits and concurrency caps: before a claimed command of a
 * limited handler starts, take its tokens and its global slot from the store; when one
 * is refused, say how long the command should wait (the worker holds it or sends it back
 * to pending, spending no attempt and holding no worker slot either way), and whether
 * only a token is awaited. Also serves `ctx.rateLimit(key)` mid-handler.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { commandLogFields } from '../core/log-fields.js';
import type { LimitStore, TakeTokenResult } from '../backends/roles/limits.js';
import type { ClaimedCommand, Command } from '../core/command.js';
import { ConfigurationError, PermanentError } from '../core/errors.js';
import {
  parseBucketSpec,
  type BucketSpec,
  type HandlerLimits,
  type RateLimitCallOptions,
  type RateLimitCatalog,
} from '../core/rate-limit-spec.js';
import { BucketWaits, CapPacer } from './pacing.js';
import { freshMs } from './freshness.js';

export type Admission =
  | {
      admitted: true;
      /** Frees the global slot; call once the handler has ended. */
      done(): void;
      /**
       * True when the tokens are too old to start the handler on (freshness.ts): call it
       * right before the handler starts, with nothing awaited in between.
       */
      late(): boolean;
      /** After late(): frees what was taken and asks again (a refusal after a few tries). */
      again(): Promise<Admission>;
    }
  | {
      admitted: false;
      delayMs: number;
      reason: string;
      /** A bucket had no token: nothing but time frees it, so the worker may hold the command. */
      tokenWait: boolean;
    };

export interface LimitGateOptions {
  /** Only the limits role: the gate takes tokens and slots, nothing else. */
  backend: LimitStore;
  catalog: RateLimitCatalog;
  logger: Logger;
  /** How long a global slot lasts without renewal (the worker's lease). */
  leaseMs: number;
  random?: () => number;
}

/** A store error while checking limits sends the command back for this long. */
const STORE_ERROR_RETRY_MS = 1000;
/** Late tokens in a row before the command goes back to wait instead of asking again. */
const LATE_TRIES = 3;

export class LimitGate {
  private readonly buckets = new BucketWaits();
  private readonly caps: CapPacer;
  /** Global slots held by running commands, by holder. */
  private readonly held = new Map<string, { key: string; limit: number; since: number }>();
  private readonly releases = new Set<Promise<void>>();
  private renewTimer: NodeJS.Timeout | null = null;

  constructor(private readonly o: LimitGateOptions) {
    this.caps = new CapPacer(o.random ?? Math.random);
  }

  async admit(command: ClaimedCommand, limits: HandlerLimits, lateTries = 0): Promise<Admission> {
    const buckets = limits.rateLimits.map((r) => ({
      key: bucketKey(r.key, command),
      spec: r,
    }));
    const cap = limits.globalConcurrency;
    // Buckets whose next token is due, that this command is the one to ask for.
    const probes: string[] = [];
    try {
      // Known empty or full here already: refuse without a store call.
      for (const b of buckets) {
        const waitMs = this.buckets.wait(b.key);
        if (waitMs !== null) return this.refuse(waitMs, `rate limited: ${b.key}`, true);
        probes.push(b.key);
      }
      const capWait = cap && this.caps.wait(cap.key, cap.limit);
      if (cap && capWait !== null) return this.refuse(capWait, capReason(cap));
      return await this.ask(command, limits, buckets, lateTries);
    } catch (error) {
      logFailure(
        this.o.logger,
        'warn',
        commandLogFields(command),
        error,
        'cannot check rate limits in the store; the command waits',
      );
      return this.refuse(STORE_ERROR_RETRY_MS, 'rate limits unavailable: store error');
    } finally {
      // Asked and answered, the bucket's entry is new or gone; not asked, another may ask.
      for (const key of probes) this.buckets.unprobe(key);
    }
  }

  /**
   * The slot first, then each bucket in order. A refused bucket frees the slot; a token
   * already taken from an earlier bucket is spent (buckets are independent).
   */
  private async ask(
    command: ClaimedCommand,
    limits: HandlerLimits,
    buckets: { key: string; spec: BucketSpec }[],
    lateTries: number,
  ): Promise<Admission> {
    const cap = limits.globalConcurrency;
    let holder: string | null = null;
    if (cap) {
      const candidate = `${command.id}:${command.leaseToken}`;
      const ok = await this.o.backend.acquireSlot({
        ...cap,
        holder: candidate,
        leaseMs: this.o.leaseMs,
      });
      if (!ok) return this.refuse(this.caps.refused(cap.key, cap.limit), capReason(cap));
      holder = candidate;
      this.hold(holder, cap);
    }
    // Asked before the store granted anything: the worker's own clock alone dates the tokens.
    const askedAt = performance.now();
    try {
      for (const b of buckets) {
        const result = await this.o.backend
          .takeToken({ key: b.key, ...pick(b.spec) })
          .catch((error: unknown) => {
            this.buckets.answered(b.key);
            throw error;
          });
        if (result.granted) this.buckets.answered(b.key);
        else {
          if (holder) this.releaseHeld(holder, false);
          const spacingMs = b.spec.perMs / b.spec.limit;
          const waitMs = this.buckets.refused(b.key, result.retryAfterMs, spacingMs);
          return this.refuse(waitMs, `rate limited: ${b.key}`, true);
        }
      }
    } catch (error) {
      if (holder) this.releaseHeld(holder, false);
      throw error;
    }
    const taken = holder;
    const fresh = Math.min(...buckets.map((b) => freshMs(b.spec)));
    return {
      admitted: true,
      done: () => (taken ? this.releaseHeld(taken, true) : undefined),
      late: () => performance.now() - askedAt > fresh,
      again: () => {
        if (taken) this.releaseHeld(taken, false);
        if (lateTries + 1 < LATE_TRIES) return this.admit(command, limits, lateTries + 1);
        const b = buckets[0]!;
        return Promise.resolve(
          this.refuse(
            b.spec.perMs / b.spec.limit,
            `rate limited: ${b.key} (tokens came too late)`,
            true,
          ),
        );
      },
    };
  }

  private refuse(delayMs: number, reason: string, tokenWait = false): Admission {
    const rounded = Math.max(1, Math.ceil(delayMs));
    return { admitted: false, delayMs: rounded, reason, tokenWait };
  }

  private hold(holder: string, cap: { key: string; limit: number }): void {
    this.held.set(holder, { key: cap.key, limit: cap.limit, since: Date.now() });
    if (this.renewTimer) return;
    this.renewTimer = setInterval(() => void this.renew(), Math.max(50, this.o.leaseMs / 3));
    this.renewTimer.unref();
  }

  /** Frees a slot without making the worker wait for the store; `ran` if a handler ran. */
  private releaseHeld(holder: string, ran: boolean): void {
    const cap = this.held.get(holder);
    if (!cap) return;
    this.held.delete(holder);
    if (ran) this.caps.freed(cap.key, Date.now() - cap.since);
    const release = this.o.backend
      .releaseSlot({ key: cap.key, holder })
      .catch((error: unknown) =>
        logFailure(
          this.o.logger,
          'warn',
          { key: cap.key },
          error,
          'cannot free a concurrency slot; it frees itself when its lease ends',
        ),
      )
      .finally(() => this.releases.delete(release));
    this.releases.add(release);
  }

  /** Extends every held slot, as leases are: a slot that is not renewed frees itself. */
  private async renew(): Promise<void> {
    for (const [holder, cap] of [...this.held]) {
      try {
        const still = await this.o.backend.acquireSlot({
          key: cap.key,
          limit: cap.limit,
          holder,
          leaseMs: this.o.leaseMs,
        });
        if (!still && this.held.has(holder)) {
          this.o.logger.warn(
            { key: cap.key, holder },
            'a concurrency slot expired before it was renewed; the cap may be exceeded briefly',
          );
        }
      } catch (error) {
        this.o.logger.warn(
          { err: error, key: cap.key },
          'cannot renew a concurrency slot; will try again',
        );
      }
    }
  }

  /** `ctx.rateLimit(key, options)`: waits for a token (or reports, with `wait: false`). */
  async take(
    key: string,
    options: RateLimitCallOptions = {},
    signal?: AbortSignal,
  ): Promise<TakeTokenResult> {
    const spec = this.specFor(key, options);
    for (;;) {
      signal?.throwIfAborted();
      const result = await this.o.backend.takeToken({ key, ...pick(spec) });
      if (result.granted || options.wait === false) return result;
      await sleep(result.retryAfterMs, undefined, { signal }).catch((error: unknown) => {
        throw signal?.aborted ? signal.reason : error;
      });
    }
  }

  private specFor(key: string, options: RateLimitCallOptions): BucketSpec {
    const where = `ctx.rateLimit(${JSON.stringify(key)})`;
    const known = this.o.catalog.get(key);
    if (options.limit === undefined && options.per === undefined && options.burst === undefined) {
      if (known) return known;
      throw new ConfigurationError(
        `${where}: no rate limit named ${JSON.stringify(key)}; pass { limit, per } or define it first with bus.registry.rateLimits.define(${JSON.stringify(key)}, { limit: 10, per: '1m' })`,
      );
    }
    const spec = parseBucketSpec(
      { limit: options.limit, per: options.per, burst: options.burst },
      where,
    );
    if (
      known &&
      (known.limit !== spec.limit || known.perMs !== spec.perMs || known.capacity !== spec.capacity)
    ) {
      throw new ConfigurationError(
        `${where}: the bucket is defined as ${known.limit} per ${known.perMs} ms (burst ${known.capacity}); one bucket has one spec, so pass the same numbers or none`,
      );
    }
    return spec;
  }

  /** Stops renewing and frees every slot still held (shutdown). */
  async close(): Promise<void> {
    if (this.renewTimer) clearInterval(this.renewTimer);
    this.renewTimer = null;
    for (const holder of [...this.held.keys()]) this.releaseHeld(holder, false);
    await Promise.all([...this.releases]);
  }
}

function capReason(cap: { key: string; limit: number }): string {
  return `concurrency cap: ${cap.limit} of ${cap.key} running`;
}

function pick(spec: BucketSpec): BucketSpec {
  return { limit: spec.limit, perMs: spec.perMs, capacity: spec.capacity };
}

/** A bucket's key for one command; a key function that fails will fail on every attempt. */
function bucketKey(key: string | ((command: Command) => string), command: Command): string {
  if (typeof key === 'string') return key;
  let value: unknown;
  try {
    value = key(command);
  } catch (error) {
    throw new PermanentError(`the rateLimit key function failed: ${(error as Error).message}`, {
      code: 'RATE_LIMIT_KEY',
      cause: error,
    });
  }
  if (typeof value !== 'string' || value.length === 0 || value.length > 200) {
    throw new PermanentError(
      `the rateLimit key function must return a non-empty string of at most 200 characters; got ${JSON.stringify(value)}`,
      { code: 'RATE_LIMIT_KEY' },
    );
  }
  return value;
}
