import { PGlite } from '@electric-sql/pglite';
import type { SqlDriver, SqlTransaction } from '../sql/driver.js';

/**
 * PGlite is one connection: its transactions are exclusive, so while a `ctx.tx` handler
 * or an application transaction runs, every other query of this process waits for it.
 * NOTIFY is delivered in-process, after commit, exactly as on PostgreSQL.
 */
export class PGliteDriver implements SqlDriver {
  readonly kind = 'pglite' as const;
  constructor(
    readonly db: PGlite,
    private readonly owned: boolean,
  ) {}

  static async open(dataDir: string | undefined): Promise<PGliteDriver> {
    return new PGliteDriver(await PGlite.create(dataDir ? { dataDir } : {}), true);
  }

  async query<T>(text: string, params?: unknown[]): Promise<{ rows: T[] }> {
    const result = await this.db.query<T>(text, params);
    return { rows: result.rows };
  }

  transaction<T>(fn: (tx: SqlTransaction) => Promise<T>): Promise<T> {
    return this.db.transaction((tx) =>
      fn({
        query: async <R>(text: string, params?: unknown[]) => ({
          rows: (await tx.query<R>(text, params)).rows,
        }),
        exec: async (sql: string) => {
          await tx.exec(sql);
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
    if (this.owned && !this.db.closed) await this.db.close();
  }
}
