/**
 * A store of a third party's own, checked by the exported conformance suite the way its
 * author would check it (docs/writing-a-store.md). The limits role is its own: token
 * buckets and concurrency caps on two plain tables, each take or acquire one statement
 * timed by the database's clock. Every other role forwards to an embedded PGlite backend,
 * as a store that builds on another engine's pieces would. A user imports the same names
 * from 'dispatchbox', 'dispatchbox/pglite' and 'dispatchbox/testing/conformance'.
 */
import { createPGliteBackend, type SqlBackend } from '../src/backends/pglite/index.js';
import type { PGliteDriver } from '../src/backends/pglite/driver.js';
import type {
  AcquireSlotParams,
  Backend,
  ClaimParams,
  CreateBatchParams,
  InsertCommandsParams,
  Lease,
  LimitStore,
  OperateParams,
  PruneParams,
  Queryable,
  ReleaseSlotParams,
  RenewLeasesParams,
  SettleParams,
  TakeTokenParams,
  TakeTokenResult,
  WakeListener,
} from '../src/index.js';
import { runStoreConformance } from '../src/testing/conformance/index.js';

/**
 * Limits on plain tables. A take is one upsert: ON CONFLICT locks the bucket's row, so
 * concurrent takes of one key queue there and each sees the tokens the last one left.
 * `now()` is the database's clock, the one clock every worker shares. An acquire is one
 * statement too, which is atomic here because PGlite runs one statement at a time; on a
 * server with many connections it would first lock the key (pg_advisory_xact_lock).
 */
class TableLimits implements LimitStore {
  constructor(private readonly sql: Queryable) {}

  async migrate(): Promise<void> {
    await this.sql.query(`CREATE SCHEMA IF NOT EXISTS third_party`);
    await this.sql.query(`CREATE TABLE IF NOT EXISTS third_party.buckets (
      key text PRIMARY KEY, tokens float8 NOT NULL, at timestamptz NOT NULL, granted boolean NOT NULL)`);
    await this.sql.query(`CREATE TABLE IF NOT EXISTS third_party.slots (
      key text NOT NULL, holder text NOT NULL, expires_at timestamptz NOT NULL,
      PRIMARY KEY (key, holder))`);
  }

  async takeToken(p: TakeTokenParams): Promise<TakeTokenResult> {
    // the bucket's tokens refilled up to now, never past its capacity
    const refilled = `least($4::float8, b.tokens + greatest(0, extract(epoch FROM now() - b.at)::float8 * 1000) * $2::float8 / $3::float8)`;
    const { rows } = await this.sql.query<{ tokens: number; granted: boolean }>(
      `INSERT INTO third_party.buckets AS b (key, tokens, at, granted)
       VALUES ($1, $4::float8 - 1, now(), true)
       ON CONFLICT (key) DO UPDATE SET
         tokens = CASE WHEN ${refilled} >= 1 THEN ${refilled} - 1 ELSE ${refilled} END,
         at = now(),
         granted = ${refilled} >= 1
       RETURNING tokens, granted`,
      [p.key, p.limit, p.perMs, p.capacity],
    );
    const { tokens, granted } = rows[0]!;
    if (granted) return { granted: true, retryAfterMs: 0 };
    return {
      granted: false,
      retryAfterMs: Math.max(1, Math.ceil(((1 - tokens) * p.perMs) / p.limit)),
    };
  }

  async acquireSlot(p: AcquireSlotParams): Promise<boolean> {
    // The CTEs see the table as the statement began: `live` leaves out expired holders
    // itself rather than reading what `gone` deleted.
    const { rows } = await this.sql.query(
      `WITH gone AS (DELETE FROM third_party.slots WHERE key = $1 AND expires_at <= now()),
       live AS (SELECT holder FROM third_party.slots WHERE key = $1 AND expires_at > now())
       INSERT INTO third_party.slots (key, holder, expires_at)
       SELECT $1, $2, now() + $4::float8 * interval '1 millisecond'
       WHERE EXISTS (SELECT 1 FROM live WHERE holder = $2) OR (SELECT count(*) FROM live) < $3
       ON CONFLICT (key, holder) DO UPDATE SET expires_at = excluded.expires_at
       RETURNING 1`,
      [p.key, p.holder, p.limit, p.leaseMs],
    );
    return rows.length === 1;
  }

  async releaseSlot(p: ReleaseSlotParams): Promise<void> {
    await this.sql.query(`DELETE FROM third_party.slots WHERE key = $1 AND holder = $2`, [
      p.key,
      p.holder,
    ]);
  }
}

/** Its own limits; the other roles' members forwarded, one by one, to the engine below. */
class ThirdPartyStore implements Backend {
  readonly kind = 'third-party';
  private readonly limits: TableLimits;

  constructor(readonly engine: SqlBackend) {
    this.limits = new TableLimits(engine.driver);
  }

  get capabilities() {
    return this.engine.capabilities;
  }
  get admin() {
    return this.engine.admin;
  }
  get workers() {
    return this.engine.workers;
  }
  get samples() {
    return this.engine.samples;
  }
  /** The engine's pool, where it has one (PGlite has none): read by metrics. */
  get poolStats() {
    return this.engine.poolStats;
  }

  // commands
  insertCommands(p: InsertCommandsParams) {
    return this.engine.insertCommands(p);
  }
  isRefusal(error: unknown) {
    return this.engine.isRefusal(error);
  }
  claim(p: ClaimParams) {
    return this.engine.claim(p);
  }
  settle(p: SettleParams) {
    return this.engine.settle(p);
  }
  completeInTransaction(
    lease: Lease & { workerId: string; attempt: number },
    fn: (tx: Queryable) => Promise<string | null>,
    signal?: AbortSignal,
  ) {
    return this.engine.completeInTransaction(lease, fn, signal);
  }
  renewLeases(p: RenewLeasesParams) {
    return this.engine.renewLeases(p);
  }
  recoverExpiredLeases(p: { limit: number }) {
    return this.engine.recoverExpiredLeases(p);
  }
  subscribe(listener: WakeListener) {
    return this.engine.subscribe(listener);
  }

  // operator
  getCommand(id: string) {
    return this.engine.getCommand(id);
  }
  getAudit(id: string) {
    return this.engine.getAudit(id);
  }
  operate(p: OperateParams) {
    return this.engine.operate(p);
  }

  // batches
  createBatch(p: CreateBatchParams) {
    return this.engine.createBatch(p);
  }
  getBatch(id: string) {
    return this.engine.getBatch(id);
  }
  listBatches(p: { limit: number; afterId?: string | undefined }) {
    return this.engine.listBatches(p);
  }
  finishBatches(p: { batchIds?: string[] }) {
    return this.engine.finishBatches(p);
  }

  // limits: its own
  takeToken(p: TakeTokenParams) {
    return this.limits.takeToken(p);
  }
  acquireSlot(p: AcquireSlotParams) {
    return this.limits.acquireSlot(p);
  }
  releaseSlot(p: ReleaseSlotParams) {
    return this.limits.releaseSlot(p);
  }

  // schema and maintenance
  async migrate() {
    await this.engine.migrate();
    await this.limits.migrate();
  }
  checkSchema() {
    return this.engine.checkSchema();
  }
  prune(p: PruneParams) {
    return this.engine.prune(p);
  }
  async tidy() {
    await this.engine.tidy?.();
  }
  ping() {
    return this.engine.ping();
  }
  close() {
    return this.engine.close();
  }
}

async function openThirdPartyStore(): Promise<ThirdPartyStore> {
  const store = new ThirdPartyStore(await createPGliteBackend());
  await store.migrate();
  return store;
}

let current: ThirdPartyStore | undefined;

runStoreConformance({
  name: 'a third party’s store',
  open: async () => {
    const store = await openThirdPartyStore();
    current ??= store; // the suite's store is the first opened
    return store;
  },
  sql: () => current!.engine.driver,
  transaction: (fn) => current!.engine.driver.transaction(fn),
  outage: async () => {
    const store = await openThirdPartyStore();
    return {
      backend: store,
      takeDown: () => (store.engine.driver as PGliteDriver).db.close(),
      cleanup: async () => {},
    };
  },
});
