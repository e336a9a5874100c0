import { PGlite } from '@electric-sql/pglite';
import { storeError, type SqlDriver, type SqlTransaction } from '../sql/driver.js';
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
    try {
      await this.yieldIfBusy();
      // parameterised statements are the repeated ones: claims, settles, sends
      if (params && params.length > 0 && this.prepared.accepts(text))
        return await this.prepared.query<T>(text, params);
      const result = await this.db.query<T>(text, params);
      return { rows: result.rows };
    } catch (error) {
      throw this.failure(error);
    }
  }

  async transaction<T>(fn: (tx: SqlTransaction) => Promise<T>): Promise<T> {
    // Failures of the statements become StoreErrors; fn's own errors pass unchanged.
    const wrapped = async <R>(work: () => Promise<R>): Promise<R> => {
      try {
        return await work();
      } catch (error) {
        throw this.failure(error);
      }
    };
    let fromFn: { error: unknown } | null = null;
    try {
      await this.yieldIfBusy();
      return await this.db.transaction(async (tx) => {
        try {
          return await fn({
            query: <R>(text: string, params?: unknown[]) =>
              wrapped(async () => {
                await this.yieldIfBusy();
                return { rows: (await tx.query<R>(text, params)).rows };
              }),
            exec: (sql: string) =>
              wrapped(async () => {
                await tx.exec(sql);
              }),
            copy: (target: string, input: string) =>
              wrapped(async () => {
                await this.yieldIfBusy();
                await tx.query(`COPY ${target} FROM '/dev/blob'`, [], { blob: new Blob([input]) });
              }),
          });
        } catch (error) {
          fromFn = { error };
          throw error;
        }
      });
    } catch (error) {
      if (fromFn !== null && (fromFn as { error: unknown }).error === error) throw error;
      throw this.failure(error);
    }
  }

  async listen(
    channel: string,
    onPayload: (payload: string) => void,
  ): Promise<() => Promise<void>> {
    try {
      return await this.db.listen(channel, onPayload);
    } catch (error) {
      throw this.failure(error);
    }
  }

  /** A closed instance fails deep inside PGlite (reading '_Postgres…' of undefined). */
  private failure(error: unknown): Error {
    if (!this.db.closed) return storeError(error, 'PGlite');
    return storeError(
      new Error(
        'the embedded database is closed (by bus.close(), or by the application that owns this PGlite)',
        {
          cause: error,
        },
      ),
      'PGlite',
    );
  }

  async close(): Promise<void> {
    try {
      if (this.owned && !this.db.closed) await this.db.close();
    } finally {
      this.release();
    }
  }
}
