/**
 * The Backend contract: everything the bus and the worker ask of a store, as the five
 * roles it combines, one file each in ./roles/:
 *
 * - CommandStore (roles/commands.ts): the hot path. Insert, claim, settle, leases, wake-ups.
 * - OperatorStore (roles/operator.ts): one command, its audit, operator actions, and the
 *   list and count queries of `AdminQueries`.
 * - BatchStore (roles/batches.ts): create, read and finish batches.
 * - LimitStore (roles/limits.ts): token buckets and concurrency caps on the store's clock.
 * - MaintenanceStore (roles/maintenance.ts): migrations, schema check, retention, close.
 *
 * Small on purpose: params objects in, plain records out, and what a store can or cannot
 * do is stated by `capabilities`, never assumed. Code that needs one role takes that role
 * (the rate-limit gate takes a LimitStore), so a reader sees what it can touch.
 *
 * Every state change is a conditional write (only from the state it expects, and for a
 * settle only with the claim's fencing token) that appends its audit record in the same
 * atomic step. docs/writing-a-store.md says what each member must guarantee; the
 * conformance suite (dispatchbox/testing/conformance) checks it.
 */
import type { Queryable } from '../core/queryable.js';
import type { BatchStore } from './roles/batches.js';
import type { CommandStore } from './roles/commands.js';
import type { DedupStore } from './roles/dedup.js';
import type { LimitStore } from './roles/limits.js';
import type { MaintenanceStore } from './roles/maintenance.js';
import type { OperatorStore } from './roles/operator.js';
import type { OutboxStore } from './roles/outbox.js';
import type { ThroughputSampleStore } from './roles/samples.js';
import type { WorkerRegistryStore } from './worker-registry.js';

export type { Queryable };
export type * from './roles/batches.js';
export type * from './roles/commands.js';
export type * from './roles/dedup.js';
export type * from './roles/limits.js';
export type * from './roles/maintenance.js';
export type * from './roles/operator.js';
export type * from './roles/outbox.js';
export type * from './roles/samples.js';
export type * from './worker-registry.js';

/** A connection pool's connections: all it holds, the idle ones, and the callers waiting for one. */
export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
}

/**
 * A whole store: every role. A member that belongs to one role goes in that role's file;
 * one that belongs to none (a new role) goes in a new file under ./roles/, extended here.
 */
export interface Backend
  extends CommandStore, OperatorStore, BatchStore, LimitStore, MaintenanceStore {
  /** The store's name: 'pglite', 'postgres', 'redis', or a third party's. */
  readonly kind: string;
  /** The worker registry: each worker's record of itself (docs/api.md, Worker registry). */
  readonly workers: WorkerRegistryStore;
  /** Throughput samples per domain and time bucket, for the console's charts (roles/samples.ts). */
  readonly samples: ThroughputSampleStore;
  /**
   * Events written in the application's transaction, for the outbox relay
   * (roles/outbox.ts): only a store that can join that transaction has it (PostgreSQL and
   * the embedded store; not Redis). `bus.publish` needs it.
   */
  readonly outbox?: OutboxStore;
  /** Which stream events each consumer group has handled, with a TTL (roles/dedup.ts). */
  readonly dedup?: DedupStore;
  /**
   * The store's connection pool now, for metrics; only a store with a pool has it
   * (PostgreSQL: node-postgres's totalCount, idleCount and waitingCount). A plain read of
   * counters, no call to the store.
   */
  poolStats?(): PoolStats;
}
