import { PGlite } from '@electric-sql/pglite';
import type { SqlDriver, SqlTransaction } from '../sql/driver.js';
import { PreparedStatements } from './prepared.js';

/** How long PGlite may keep the thread before the event loop gets a turn (see yieldIfBusy). */
const YIELD_EVERY_MS = 10;

/**
 * PGlite is one connection: its transactions are exclusive, so while a `ctx.tx` handler
 * or an application transaction runs, every other query of this process waits for it.
 * NOTIFY is delivered in-process, after commit, exactly as on PostgreSQL.
 */
export class PGliteDriver implements SqlDriver {
  readonly kind = 'pglite' as const;
  private lastTurn = Date.now();
  private readonly prepared: PreparedStatements;

  constructor(
    readonly db: PGlite,
    private readonly owned: boolean,
    /** Releases the data directory's lock once the database is closed. */
    private readonly release: () => void = () => {},
  ) {
    this.prepared = new PreparedStatements(db);
  }

  static async open(dataDir?: string, release?: () => void): Promise<PGliteDriver> {
    return new PGliteDriver(await PGlite.create(dataDir ? { dataDir } : {}), true, release);
  }

  /**
   * PGlite runs each query synchronously in this thread and resolves it as a microtask, so
   * a worker going through a backlog never lets the event loop turn: no timer (lease
   * renewal, handler timeouts, maintenance), no I/O (health checks, IPC) and no signal
   * handler (graceful stop on SIGTERM) would run until the backlog is gone. Give the
   * event loop a turn every few milliseconds of queries; the cost is one setImmediate.
   */
  private async yieldIfBusy(): Promise<void> {
    if (Date.now() - this.lastTurn < YIELD_EVERY_MS) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.lastTurn = Date.now();
  }

  async query<T>(text: string, params?: unknown[]): Promise<{ rows: T[] }> {
    await this.yieldIfBusy();
    // parameterised statements are the repeated ones: claims, settles, sends
    if (params && params.length > 0 && this.prepared.accepts(text))
      return this.prepared.query<T>(text, params);
    const result = await this.db.query<T>(text, params);
    return { rows: result.rows };
  }

  async transaction<T>(fn: (tx: SqlTransaction) => Promise<T>): Promise<T> {
    await this.yieldIfBusy();
    return this.db.transaction((tx) =>
      fn({
        query: async <R>(text: string, params?: unknown[]) => {
          await this.yieldIfBusy();
          return { rows: (await tx.query<R>(text, params)).rows };
        },
        exec: async (sql: string) => {
          await tx.exec(sql);
        },
        copy: async (target: string, input: string) => {
          await this.yieldIfBusy();
          await tx.query(`COPY ${target} FROM '/dev/blob'`, [], { blob: new Blob([input]) });
        },
      }),
    );
  }

  async listen(
    channel: string,
    onPayload: (payload: string) => void,
  ): Promise<() => Promise<void>> {
    return this.db.listen(channel, onPayload);
  }

  async close(): Promise<void> {
    try {
      if (this.owned && !this.db.closed) await this.db.close();
    } finally {
      this.release();
    }
  }
}
