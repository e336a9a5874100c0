/**
 * The limits role: token buckets and concurrency caps shared by every worker of a store,
 * atomic in the store and timed by the store's clock, never a worker's (workers' clocks
 * drift; the store's is one).
 */
import type { TakeTokenResult } from '../../core/rate-limit-spec.js';

// Defined in core, where a handler's `ctx.rateLimit` returns it too; a store imports it here.
export type { TakeTokenResult };

/**
 * One take from a token bucket shared by every worker of the store. `key` is opaque to
 * the store (a bucket name or a tenant's key; a backend may namespace it, e.g. with its
 * key prefix or schema).
 */
export interface TakeTokenParams {
  key: string;
  /** Tokens added per `perMs`, continuously: one every perMs / limit ms. Whole number >= 1. */
  limit: number;
  /** The refill period in ms, > 0. */
  perMs: number;
  /** Most tokens the bucket holds (the largest burst). Whole number >= 1. */
  capacity: number;
}

export interface AcquireSlotParams {
  /** The cap's name (the worker uses `domain/type`). */
  key: string;
  /** Most holders at once. */
  limit: number;
  /** Unique per execution; acquiring again with the same holder renews its slot. */
  holder: string;
  /** The slot frees itself this long after the last acquire/renew (a crashed worker's slot). */
  leaseMs: number;
}

export interface ReleaseSlotParams {
  key: string;
  holder: string;
}

export interface LimitStore {
  /**
   * Token bucket, atomic across every worker and process of the store, timed by the
   * store's clock (never a worker's). A bucket that does not exist is full: it starts
   * with `capacity` tokens. On each call: tokens = min(capacity, tokens + elapsed *
   * limit / perMs), where elapsed is the store time since the last call on this key
   * (never negative); then if tokens >= 1 take one and grant, else refuse with
   * retryAfterMs = ceil((1 - tokens) * perMs / limit), changing nothing else. The params
   * of the current call are used for the refill (a key has one spec; the registry checks
   * it). A bucket untouched long enough to be full again may be forgotten (expire/prune):
   * it is then re-created full, which is the same state.
   */
  takeToken(params: TakeTokenParams): Promise<TakeTokenResult>;
  /**
   * Concurrency cap, atomic across every worker of the store. Holders whose slot expired
   * (store clock) are dropped first. If `holder` already holds a slot of `key`, its
   * expiry moves to now + leaseMs and the result is true (renewal). Otherwise, if fewer
   * than `limit` unexpired holders remain, `holder` takes a slot expiring at now +
   * leaseMs and the result is true; else false and nothing changes.
   */
  acquireSlot(params: AcquireSlotParams): Promise<boolean>;
  /** Frees `holder`'s slot of `key`; a no-op when it holds none (expired or released). */
  releaseSlot(params: ReleaseSlotParams): Promise<void>;
}
