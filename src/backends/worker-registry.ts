/**
 * The worker registry: each worker records itself in the store and refreshes the record,
 * so that operators (`dispatchbox workers`), the console and a readiness check can see
 * which workers run, what they handle and how they are doing. A worker that stops
 * refreshing (crashed, frozen, cut off) is listed as stale once `staleAfterMs` has passed
 * without a refresh, and the store forgets it `forgetAfterMs` after its last refresh.
 * Every time is the store's clock, never a worker's, so skewed machines agree.
 */
import { ValidationError } from '../core/errors.js';
import { storableText } from '../core/json.js';

/** What a worker says about itself; written at start and at every refresh. */
export interface WorkerInfo {
  /** The worker's id, as in its claims and the audit trail. */
  id: string;
  host: string;
  pid: number;
  /** The domains it claims from. */
  domains: string[];
  /** Only these types; null when it takes every type of its domains. */
  types: string[] | null;
  /** Handlers it runs at once. */
  concurrency: number;
  /** When the worker started (its own clock: the store records it as told). */
  startedAt: Date;
  /** Its counters since it started (attempts started, completed, retried, ...). */
  counters: Record<string, number>;
  /** The Dispatchbox version it runs. */
  version: string;
}

export interface UpsertWorkerParams {
  info: WorkerInfo;
  /** Listed as stale after this long without a refresh (a few refresh intervals). */
  staleAfterMs: number;
  /** Forgotten by the store after this long without a refresh; more than staleAfterMs. */
  forgetAfterMs: number;
}

export interface StopWorkerParams {
  id: string;
  /** The final counters. */
  counters: Record<string, number>;
  /** Kept, listed as stopped, for this long; then forgotten. */
  forgetAfterMs: number;
}

/** alive: refreshed lately; stale: not refreshed for staleAfterMs (likely crashed); stopped: stopped gracefully. */
export type WorkerStatus = 'alive' | 'stale' | 'stopped';

export interface WorkerEntry extends WorkerInfo {
  status: WorkerStatus;
  /** The last refresh, by the store's clock. */
  lastSeenAt: Date;
  /** How long ago that was when listed, by the store's clock. */
  silentMs: number;
  staleAfterMs: number;
  /** When it stopped gracefully; null while it runs (or if it crashed). */
  stoppedAt: Date | null;
}

/** The store's part of the registry. */
export interface WorkerRegistryStore {
  /** Records the worker, or refreshes its record: last seen is now, by the store's clock. */
  upsertWorker(params: UpsertWorkerParams): Promise<void>;
  /** Marks the worker stopped (graceful stop); it is listed as stopped until forgotten. */
  stopWorker(params: StopWorkerParams): Promise<void>;
  /** Forgets the worker at once; a no-op when it is not recorded. */
  removeWorker(id: string): Promise<void>;
  /**
   * Every worker not yet forgotten, at most MAX_LISTED_WORKERS, oldest start first. The
   * store drops the forgotten ones as it goes, so the registry stays bounded.
   */
  listWorkers(): Promise<WorkerEntry[]>;
}

/** Most workers one listing returns. */
export const MAX_LISTED_WORKERS = 10_000;

const MAX_TEXT = 255;
const MAX_NAMES = 1000;
const MAX_NAME = 128;
const MAX_COUNTERS = 32;
/** A day: a worker is not stale after longer than that, nor kept after longer than a week. */
const MAX_STALE_MS = 24 * 3600_000;
const MAX_FORGET_MS = 7 * 24 * 3600_000;

function refuse(path: string, what: string, got: unknown): never {
  const shown = typeof got === 'string' ? `${got.length} characters` : JSON.stringify(got);
  throw new ValidationError(`worker registry: ${path} must be ${what}; got ${shown}`, path);
}

function text(value: unknown, path: string, max = MAX_TEXT): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max)
    refuse(path, `text of 1 to ${max} characters`, value);
  return storableText(value);
}

function whole(value: unknown, path: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    refuse(path, `a whole number from ${min} to ${max}`, value);
  return value;
}

function names(value: unknown, path: string): string[] {
  if (!Array.isArray(value) || value.length > MAX_NAMES)
    refuse(
      path,
      `a list of at most ${MAX_NAMES} names`,
      Array.isArray(value) ? value.length : value,
    );
  return value.map((v, i) => text(v, `${path}[${i}]`, MAX_NAME));
}

/** The counters, checked: at most 32 names, each a whole number of zero or more. */
export function checkCounters(value: unknown, path = 'counters'): Record<string, number> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    refuse(path, 'an object of counters', value);
  const entries = Object.entries(value);
  if (entries.length > MAX_COUNTERS)
    refuse(path, `at most ${MAX_COUNTERS} counters`, entries.length);
  const counters: Record<string, number> = {};
  for (const [name, n] of entries) {
    counters[text(name, `${path} name`, 64)] = whole(
      n,
      `${path}.${name}`,
      0,
      Number.MAX_SAFE_INTEGER,
    );
  }
  return counters;
}

/**
 * The registration, checked and bounded before it reaches a store (a few KiB at most):
 * a clear error naming the field, and nothing written.
 */
export function checkUpsert(params: UpsertWorkerParams): UpsertWorkerParams {
  const { info } = params;
  if (!(info.startedAt instanceof Date) || Number.isNaN(info.startedAt.getTime()))
    refuse('startedAt', 'a valid Date', info.startedAt);
  const staleAfterMs = whole(params.staleAfterMs, 'staleAfterMs', 1, MAX_STALE_MS);
  const forgetAfterMs = whole(params.forgetAfterMs, 'forgetAfterMs', 1, MAX_FORGET_MS);
  if (forgetAfterMs <= staleAfterMs)
    refuse('forgetAfterMs', `more than staleAfterMs (${staleAfterMs})`, forgetAfterMs);
  return {
    info: {
      id: text(info.id, 'id'),
      host: text(info.host, 'host'),
      pid: whole(info.pid, 'pid', 0, 2 ** 31 - 1),
      domains: names(info.domains, 'domains'),
      types: info.types === null ? null : names(info.types, 'types'),
      concurrency: whole(info.concurrency, 'concurrency', 0, 2 ** 31 - 1),
      startedAt: info.startedAt,
      counters: checkCounters(info.counters),
      version: text(info.version, 'version', 64),
    },
    staleAfterMs,
    forgetAfterMs,
  };
}

export function checkStop(params: StopWorkerParams): StopWorkerParams {
  return {
    id: text(params.id, 'id'),
    counters: checkCounters(params.counters),
    forgetAfterMs: whole(params.forgetAfterMs, 'forgetAfterMs', 1, MAX_FORGET_MS),
  };
}

/** A worker's status from what the store read, by the store's clock. */
export function workerStatus(entry: {
  stoppedAt: Date | null;
  silentMs: number;
  staleAfterMs: number;
}): WorkerStatus {
  if (entry.stoppedAt) return 'stopped';
  return entry.silentMs > entry.staleAfterMs ? 'stale' : 'alive';
}
