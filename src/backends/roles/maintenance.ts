/**
 * The schema and maintenance role: bring the store's schema to this code's version, check
 * it at start-up, delete what retention lets go, reclaim space, answer a ping, and close.
 */

export interface PruneParams {
  /** Completed and cancelled commands older than this (by last update) go, with their audit. */
  olderThanMs: number;
  limit: number;
}

export interface MaintenanceStore {
  /** Applies pending migrations (idempotent, safe when several processes start at once). */
  migrate(): Promise<void>;
  /** Throws SchemaVersionError when the store's schema is older or newer than this code. */
  checkSchema(): Promise<void>;
  /**
   * Deletes up to `limit` completed and cancelled commands past retention with their
   * audit; returns how many went. Never a command that is pending, running or in
   * troubleshooting; a batch keeps counting the members it lost this way. A store may
   * forget in the same call what retention also lets go: finished batches past it, full
   * token buckets and expired slots (the same state as none).
   */
  prune(params: PruneParams): Promise<number>;
  /**
   * Reclaims what finished work left behind, if the store needs it: on PostgreSQL and
   * PGlite, VACUUM of the commands table once dead rows pile up, so the claim index does
   * not fill with dead entries between autovacuum runs. Worker maintenance calls it every
   * few seconds; it must be cheap when there is nothing to do. Optional.
   */
  tidy?(): Promise<void>;
  /**
   * Resolves when the store answers one round trip that reads nothing (`SELECT 1`, Redis
   * PING); rejects with a StoreError when it cannot be reached. A readiness probe calls it
   * about once a second, so it must cost the store nothing worth counting.
   */
  ping(): Promise<void>;
  close(): Promise<void>;
}
