import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { neverThrows } from '../../core/log-safely.js';
import type { PoolStats } from '../backend.js';
import { storeError, type SqlDriver, type SqlTransaction } from '../sql/driver.js';

export interface PostgresDriverOptions {
  connectionString?: string | undefined;
  /** An application's pool to share; Dispatchbox does not close it. */
  pool?: pg.Pool | undefined;
  poolSize?: number | undefined;
  /** Told about connection errors that Dispatchbox recovers from by itself. */
  onError?: ((error: Error, where: string) => void) | undefined;
  /**
   * How long a statement or a new connection may go unanswered before the connection is
   * taken for dead and replaced. Default 10 s (see `connectionSafety`).
   */
  storeTimeoutMs?: number | undefined;
}

/** The default store timeout: a third of the default 30-second lease. */
export const DEFAULT_STORE_TIMEOUT_MS = 10_000;

/**
 * What keeps Dispatchbox's connections from hanging on a silent network (packets dropped,
 * no reset). Without it a statement sent into a cut waits for TCP's own retransmission
 * timeout, about 15 minutes on Linux, holding its pool connection all the while.
 *
 * - Each statement of Dispatchbox's own (claims, settles, renewals, sends, maintenance,
 *   BEGIN and COMMIT) gives up after `timeoutMs` with no reply, and node-postgres then
 *   discards its connection (`statementTimeout`). It is node-postgres's own timer on the
 *   reply: the server's `statement_timeout` cannot help, since the server is not what went
 *   quiet. The statements a `ctx.tx` handler runs, and migrations, have no such limit (a
 *   legitimate one may take long); a `ctx.tx` transaction's connection is dropped instead
 *   when its run is given up (see `transaction`).
 * - A new connection gives up after `timeoutMs` too (at most 5 s, as before: start-up
 *   tries again until connectTimeoutMs).
 * - TCP keepalive probes an idle connection after `timeoutMs`, so the kernel ends one
 *   whose peer is gone.
 *
 * With the timeout at a third of the lease or less, a worker cut off from its store finds
 * out, and gets new connections once the network is back, within its lease.
 */
export function connectionSafety(timeoutMs: number) {
  return {
    connectionTimeoutMillis: Math.min(5000, timeoutMs),
    keepAlive: true,
    keepAliveInitialDelayMillis: timeoutMs,
  };
}

/** A statement that gives up after `timeoutMs` with no reply (node-postgres's query_timeout). */
function statementTimeout(
  timeoutMs: number,
  query: pg.QueryConfig,
): pg.QueryConfig & { query_timeout: number } {
  return { ...query, query_timeout: timeoutMs };
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
  readonly storeTimeoutMs: number;

  constructor(private readonly options: PostgresDriverOptions) {
    this.onError = neverThrows(options.onError);
    this.owned = !options.pool;
    this.storeTimeoutMs = options.storeTimeoutMs ?? DEFAULT_STORE_TIMEOUT_MS;
    // An application's own pool keeps the application's settings.
    this.pool =
      options.pool ??
      new pg.Pool({
        connectionString: options.connectionString,
        max: options.poolSize ?? 10,
        ...connectionSafety(this.storeTimeoutMs),
      });
    // An idle client dies when the server restarts; without a listener that is a crash.
    this.pool.on('error', (error) => this.onError(error, 'idle connection'));
  }

  /** node-postgres's own counters of the pool (an application's shared pool included). */
  poolStats(): PoolStats {
    return {
      total: this.pool.totalCount,
      idle: this.pool.idleCount,
      waiting: this.pool.waitingCount,
    };
  }

  async query<T>(text: string, params?: unknown[]): Promise<{ rows: T[] }> {
    const name = params ? this.statementName(text) : undefined;
    // The store timeout is a timer of our own, and the statement runs in node-postgres's
    // callback style: its query_timeout, and its promise style, each raised the peak RSS
    // of a 100,000-command drain from 93-95 to 122-127 MB (the bench's memory workload).
    // A statement with no reply in time fails; its connection is discarded (pg-pool ends
    // it) and its socket destroyed, so nothing waits on it again.
    let client: pg.PoolClient | undefined;
    let broken = false;
    // pg-pool stops listening to a client it hands out, and node-postgres emits 'error' on
    // a connection the server ends while a statement runs (besides failing the statement):
    // without a listener of ours for the checkout, that is an uncaught exception.
    const markBroken = () => {
      broken = true;
    };
    try {
      client = await this.pool.connect();
      client.on('error', markBroken);
      const connection = client;
      const rows = await new Promise<T[]>((resolve, reject) => {
        const timer = setTimeout(() => {
          broken = true;
          reject(new Error(`no reply within the store timeout of ${this.storeTimeoutMs} ms`));
        }, this.storeTimeoutMs);
        connection.query({ name, text, values: params }, (error, result) => {
          clearTimeout(timer);
          if (error) {
            broken = true;
            reject(error);
          } else resolve(result.rows as T[]);
        });
      });
      return { rows };
    } catch (error) {
      throw storeError(error, 'PostgreSQL');
    } finally {
      client?.removeListener('error', markBroken);
      if (client && broken) {
        // an error event after the query's own end has no listener of pg-pool's any more
        client.on('error', () => {});
        client.release(true);
        client.connection.stream.destroy();
      } else client?.release();
    }
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

  /**
   * A transaction on a connection of its own. When `signal` aborts (the run was abandoned
   * with its lease, timed out or cut short by a shutdown: it rolls back in any case), the
   * connection is dropped: a statement of the handler waiting on a silent network ends at
   * once, and the server rolls the transaction back.
   */
  async transaction<T>(fn: (tx: SqlTransaction) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const client = await this.pool.connect().catch((error: unknown) => {
      throw storeError(error, 'PostgreSQL');
    });
    let broken = false;
    // The pool stops listening to a client it hands out: without a listener of ours, the
    // server going away while the transaction waits on its caller (a `ctx.tx` handler
    // between statements) is an uncaught 'error' event that ends the process.
    const onClientError = (error: Error) => {
      broken = true;
      this.onError(error, 'transaction connection');
    };
    const drop = () => {
      broken = true;
      client.connection.stream.destroy();
    };
    client.on('error', onClientError);
    signal?.addEventListener('abort', drop, { once: true });
    // Failures of the statements become StoreErrors here; fn's own errors pass unchanged.
    // Our own BEGIN/COMMIT/ROLLBACK have the store timeout; the handler's statements none.
    const own = async (text: string): Promise<void> => {
      try {
        await client.query(statementTimeout(this.storeTimeoutMs, { text }));
      } catch (error) {
        throw storeError(error, 'PostgreSQL');
      }
    };
    const run = async <R>(text: string, params?: unknown[]): Promise<R[]> => {
      try {
        return (await client.query(text, params)).rows as R[];
      } catch (error) {
        throw storeError(error, 'PostgreSQL');
      }
    };
    const tx: SqlTransaction = {
      query: async <R>(text: string, params?: unknown[]) => ({ rows: await run<R>(text, params) }),
      exec: async (sql: string) => {
        await run(sql); // no parameters: the simple protocol runs several statements
      },
      // node-postgres hands COPY data over only as a stream (pg-copy-streams): the text
      // goes in as a one-chunk stream
      copy: async (target: string, input: string) => {
        await pipeline(
          Readable.from([input]),
          client.query(copyFrom(`COPY ${target} FROM STDIN`)),
        ).catch((error: unknown) => {
          throw storeError(error, 'PostgreSQL');
        });
      },
    };
    try {
      if (signal?.aborted) drop();
      await own('BEGIN');
      const value = await fn(tx);
      await own('COMMIT');
      return value;
    } catch (error) {
      await own('ROLLBACK').catch(() => {
        broken = true;
      });
      throw error;
    } finally {
      signal?.removeEventListener('abort', drop);
      client.removeListener('error', onClientError);
      client.release(broken);
    }
  }

  /**
   * LISTEN on a dedicated connection that comes back by itself after the server or the
   * network goes away. Missed notifications are harmless: workers also poll.
   *
   * A connection that only listens sends nothing, so a silent network cut would leave it
   * waiting forever for notifications that cannot come: it is asked a `SELECT 1` every
   * store timeout, and one unanswered within the store timeout replaces it.
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
      let dead = false;
      const fail = (error: Error) => {
        if (dead) return;
        dead = true;
        this.onError(error, 'listen connection');
        reconnect(next);
      };
      next.on('notification', (msg) => {
        if (msg.channel === channel) onPayload(msg.payload ?? '');
      });
      next.on('error', fail);
      try {
        await next.connect();
        await next.query(`LISTEN "${channel}"`);
        client = next;
        failures = 0;
        this.checkAlive(next, () => dead || client !== next, fail);
        onPayload(''); // catch up on anything sent while disconnected
      } catch (error) {
        fail(error as Error);
      }
    };
    const reconnect = (dead: pg.Client): void => {
      if (client === dead) client = null;
      // not awaited: on a connection cut off in silence, a polite end waits for the network
      void dead.end().catch(() => {});
      if (stopped || this.closed) return;
      const delay = LISTEN_RETRY_MS[Math.min(failures++, LISTEN_RETRY_MS.length - 1)]!;
      setTimeout(() => void connect(), delay).unref();
    };
    await connect();
    return async () => {
      stopped = true;
      const current = client;
      client = null;
      if (current) await this.endWithin(current);
    };
  }

  /** Asks `client` a `SELECT 1` every store timeout until `gone`; `fail` when one fails. */
  private checkAlive(client: pg.Client, gone: () => boolean, fail: (error: Error) => void): void {
    const timer = setInterval(() => {
      if (gone()) clearInterval(timer);
      else
        client.query('SELECT 1').catch((error: Error) => {
          clearInterval(timer);
          fail(error);
        });
    }, this.storeTimeoutMs);
    timer.unref();
  }

  /** Ends `client`, waiting at most the store timeout for the server to say goodbye. */
  private async endWithin(client: pg.Client): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      client.end().catch(() => {}),
      new Promise((resolve) => (timer = setTimeout(resolve, this.storeTimeoutMs))),
    ]);
    clearTimeout(timer);
  }

  /** The LISTEN connection's settings: it runs only LISTEN and the check it is alive. */
  private clientConfig(): pg.ClientConfig {
    const safety = { ...connectionSafety(this.storeTimeoutMs), query_timeout: this.storeTimeoutMs };
    if (this.options.connectionString)
      return { connectionString: this.options.connectionString, ...safety };
    const o = this.pool.options;
    return {
      host: o.host,
      port: o.port,
      user: o.user,
      password: o.password,
      database: o.database,
      ...safety,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.owned) await this.pool.end();
  }
}
