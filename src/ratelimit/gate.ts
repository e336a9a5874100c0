/**
 * The worker's side of rate limits and concurrency caps: before a claimed command of a
 * limited handler starts, take its tokens and its global slot from the store; when one
 * is refused, say how long the command should wait (it goes back to pending, spending no
 * attempt and holding no worker slot). Also serves `ctx.rateLimit(key)` mid-handler.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Backend, TakeTokenResult } from '../backends/backend.js';
import type { ClaimedCommand, Command } from '../core/command.js';
import { ConfigurationError, PermanentError } from '../core/errors.js';
import {
  parseBucketSpec,
  type BucketSpec,
  type HandlerLimits,
  type RateLimitCallOptions,
  type RateLimitCatalog,
} from './spec.js';

export type Admission =
  | { admitted: true; /** Frees the global slot; call once the handler has ended. */ done(): void }
  | { admitted: false; delayMs: number; reason: string };

export interface LimitGateOptions {
  backend: Backend;
  catalog: RateLimitCatalog;
  logger: Logger;
  /** How long a global slot lasts without renewal (the worker's lease). */
  leaseMs: number;
  /** Told how long each refused command waits, to look for work again then. */
  onRefused?: (delayMs: number) => void;
  random?: () => number;
}

/** A refused cap is asked again after this (plus jitter): when a slot frees is unknowable. */
const SLOT_RETRY_MS = 100;
/** After the store refuses a cap, this worker refuses that cap locally for this long. */
const SLOT_LOCAL_MS = 50;
/** A store error while checking limits sends the command back for this long. */
const STORE_ERROR_RETRY_MS = 1000;

interface EmptyBucket {
  until: number;
  spacingMs: number;
  queued: number;
}

export class LimitGate {
  /** Buckets the store said are empty: further commands wait without asking it again. */
  private readonly emptyBuckets = new Map<string, EmptyBucket>();
  private readonly fullCaps = new Map<string, number>();
  /** Global slots held by running commands, by holder. */
  private readonly held = new Map<string, { key: string; limit: number }>();
  private readonly releases = new Set<Promise<void>>();
  private renewTimer: NodeJS.Timeout | null = null;
  private readonly random: () => number;

  constructor(private readonly o: LimitGateOptions) {
    this.random = o.random ?? Math.random;
  }

  async admit(command: ClaimedCommand, limits: HandlerLimits): Promise<Admission> {
    const buckets = limits.rateLimits.map((r) => ({
      key: bucketKey(r.key, command),
      spec: r as BucketSpec,
    }));
    const cap = limits.globalConcurrency;
    const now = Date.now();
    for (const b of buckets) {
      const local = this.localRefusal(b.key, now);
      if (local) return local;
    }
    if (cap && (this.fullCaps.get(cap.key) ?? 0) > now) return this.refuseCap(cap.key, cap.limit);
    try {
      return await this.ask(command, buckets, cap);
    } catch (error) {
      this.o.logger.warn(
        { err: error },
        'cannot check rate limits in the store; the command waits',
      );
      return this.refuse(STORE_ERROR_RETRY_MS, 'rate limits unavailable: store error');
    }
  }

  /**
   * The slot first, then each bucket in order. A refused bucket frees the slot; a token
   * already taken from an earlier bucket is spent (buckets are independent).
   */
  private async ask(
    command: ClaimedCommand,
    buckets: { key: string; spec: BucketSpec }[],
    cap: HandlerLimits['globalConcurrency'],
  ): Promise<Admission> {
    let holder: string | null = null;
    if (cap) {
      const candidate = `${command.id}:${command.leaseToken}`;
      const ok = await this.o.backend.acquireSlot({
        ...cap,
        holder: candidate,
        leaseMs: this.o.leaseMs,
      });
      if (!ok) {
        this.fullCaps.set(cap.key, Date.now() + SLOT_LOCAL_MS);
        return this.refuseCap(cap.key, cap.limit);
      }
      holder = candidate;
      this.hold(holder, cap);
    }
    try {
      for (const b of buckets) {
        const result = await this.o.backend.takeToken({ key: b.key, ...pick(b.spec) });
        if (!result.granted) {
          if (holder) this.releaseHeld(holder);
          this.forgetPastRefusals();
          this.emptyBuckets.set(b.key, {
            until: Date.now() + result.retryAfterMs,
            spacingMs: b.spec.perMs / b.spec.limit,
            queued: 0,
          });
          return this.refuse(result.retryAfterMs, `rate limited: ${b.key}`);
        }
      }
    } catch (error) {
      if (holder) this.releaseHeld(holder);
      throw error;
    }
    const taken = holder;
    return { admitted: true, done: () => (taken ? this.releaseHeld(taken) : undefined) };
  }

  /**
   * A bucket known to be empty: refuse without asking the store, and spread the waiting
   * commands one refill interval apart so they do not all come back at the same moment.
   */
  private localRefusal(key: string, now: number): Admission | null {
    const empty = this.emptyBuckets.get(key);
    if (!empty) return null;
    if (now >= empty.until) {
      this.emptyBuckets.delete(key);
      return null;
    }
    empty.queued++;
    return this.refuse(empty.until - now + empty.queued * empty.spacingMs, `rate limited: ${key}`);
  }

  /** Per-tenant keys are many: drop what is past once there are a lot of them. */
  private forgetPastRefusals(): void {
    if (this.emptyBuckets.size < 1000) return;
    const now = Date.now();
    for (const [key, empty] of this.emptyBuckets)
      if (empty.until <= now) this.emptyBuckets.delete(key);
  }

  private refuseCap(key: string, limit: number): Admission {
    const delay = SLOT_RETRY_MS * (1 + this.random());
    return this.refuse(delay, `concurrency cap: ${limit} of ${key} running`);
  }

  private refuse(delayMs: number, reason: string): Admission {
    const rounded = Math.max(1, Math.ceil(delayMs));
    this.o.onRefused?.(rounded);
    return { admitted: false, delayMs: rounded, reason };
  }

  private hold(holder: string, cap: { key: string; limit: number }): void {
    this.held.set(holder, cap);
    if (this.renewTimer) return;
    this.renewTimer = setInterval(() => void this.renew(), Math.max(50, this.o.leaseMs / 3));
    this.renewTimer.unref();
  }

  /** Frees a slot without making the worker wait for the store. */
  private releaseHeld(holder: string): void {
    const cap = this.held.get(holder);
    if (!cap) return;
    this.held.delete(holder);
    this.fullCaps.delete(cap.key);
    const release = this.o.backend
      .releaseSlot({ key: cap.key, holder })
      .catch((error: unknown) =>
        this.o.logger.warn(
          { err: error, key: cap.key },
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
        const still = await this.o.backend.acquireSlot({ ...cap, holder, leaseMs: this.o.leaseMs });
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
    for (const holder of [...this.held.keys()]) this.releaseHeld(holder);
    await Promise.all([...this.releases]);
  }
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
