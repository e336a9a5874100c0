import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { SqlDriver, SqlTransaction } from '../sql/driver.js';

export interface PostgresDriverOptions {
  connectionString?: string | undefined;
  /** An application's pool to share; Dispatchbox does not close it. */
  pool?: pg.Pool | undefined;
  poolSize?: number | undefined;
  /** Told about connection errors that Dispatchbox recovers from by itself. */
  onError?: ((error: Error, where: string) => void) | undefined;
}

const MAX_PREPARED = 64;
const LISTEN_RETRY_MS = [100, 250, 500, 1000, 2000, 5000];

export class PostgresDriver implements SqlDriver {
  readonly kind = 'postgres' as const;
  readonly pool: pg.Pool;
  private readonly owned: boolean;
  private readonly onError: (error: Error, where: string) => void;
  private closed = false;
  private readonly statementNames = new Map<string, string>();

  constructor(private readonly options: PostgresDriverOptions) {
    this.onError = options.onError ?? (() => {});
    this.owned = !options.pool;
    this.pool =
      options.pool ??
      new pg.Pool({
        connectionString: options.connectionString,
        max: options.poolSize ?? 10,
        connectionTimeoutMillis: 5000,
      });
    // An idle client dies when the server restarts; without a listener that is a crash.
    this.pool.on('error', (error) => this.onError(error, 'idle connection'));
  }

  async query<T>(text: string, params?: unknown[]): Promise<{ rows: T[] }> {
    const name = params ? this.statementName(text) : undefined;
    const result = await this.pool.query({ name, text, values: params });
    return { rows: result.rows as T[] };
  }

  /**
   * Parameterised statements are prepared once per connection and then only bound and
   * executed: the hot path's CTEs cost about 0.2 ms each to parse and plan, which is a
   * tenth of a 128-row claim. The set of texts is small and fixed; past the cap (dynamic
   * admin filters) statements simply run unnamed.
   */
  private statementName(text: string): string | undefined {
    let name = this.statementNames.get(text);
    if (name === undefined && this.statementNames.size < MAX_PREPARED) {
      name = `dispatchbox_${this.statementNames.size}`;
      this.statementNames.set(text, name);
    }
    return name;
  }

  async transaction<T>(fn: (tx: SqlTransaction) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken = false;
    // The pool stops listening to a client it hands out: without a listener of ours, the
    // server going away while the transaction waits on its caller (a `ctx.tx` handler
    // between statements) is an uncaught 'error' event that ends the process.
    const onClientError = (error: Error) => {
      broken = true;
      this.onError(error, 'transaction connection');
    };
    client.on('error', onClientError);
    const tx: SqlTransaction = {
      query: async <R>(text: string, params?: unknown[]) => ({
        rows: (await client.query(text, params)).rows as R[],
      }),
      exec: async (sql: string) => {
        await client.query(sql); // no parameters: the simple protocol runs several statements
      },
      // node-postgres hands COPY data over only as a stream (pg-copy-streams): the text
      // goes in as a one-chunk stream
      copy: async (target: string, input: string) => {
        await pipeline(Readable.from([input]), client.query(copyFrom(`COPY ${target} FROM STDIN`)));
      },
    };
    try {
      await client.query('BEGIN');
      const value = await fn(tx);
      await client.query('COMMIT');
      return value;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {
        broken = true;
      });
      throw error;
    } finally {
      client.removeListener('error', onClientError);
      client.release(broken);
    }
  }

  /**
   * LISTEN on a dedicated connection that comes back by itself after the server or the
   * network goes away. Missed notifications are harmless: workers also poll.
   */
  async listen(
    channel: string,
    onPayload: (payload: string) => void,
  ): Promise<() => Promise<void>> {
    let client: pg.Client | null = null;
    let stopped = false;
    let failures = 0;
    const connect = async (): Promise<void> => {
      if (stopped || this.closed) return;
      const next = new pg.Client(this.clientConfig());
      next.on('notification', (msg) => {
        if (msg.channel === channel) onPayload(msg.payload ?? '');
      });
      next.on('error', (error) => {
        this.onError(error, 'listen connection');
        void reconnect(next);
      });
      try {
        await next.connect();
        await next.query(`LISTEN "${channel}"`);
        client = next;
        failures = 0;
        onPayload(''); // catch up on anything sent while disconnected
      } catch (error) {
        this.onError(error as Error, 'listen connection');
        void reconnect(next);
      }
    };
    const reconnect = async (dead: pg.Client): Promise<void> => {
      if (client === dead) client = null;
      await dead.end().catch(() => {});
      if (stopped || this.closed) return;
      const delay = LISTEN_RETRY_MS[Math.min(failures++, LISTEN_RETRY_MS.length - 1)]!;
      setTimeout(() => void connect(), delay).unref();
    };
    await connect();
    return async () => {
      stopped = true;
      const current = client;
      client = null;
      await current?.end().catch(() => {});
    };
  }

  private clientConfig(): pg.ClientConfig {
    if (this.options.connectionString) return { connectionString: this.options.connectionString };
    const o = this.pool.options;
    return {
      host: o.host,
      port: o.port,
      user: o.user,
      password: o.password as string | undefined,
      database: o.database,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.owned) await this.pool.end();
  }
}
