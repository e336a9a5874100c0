import { Redis, type RedisOptions } from 'ioredis';
import { ConfigurationError, StoreError } from '../../core/errors.js';
import { redactSecrets } from '../../core/redact.js';

export interface RedisTarget {
  host: string;
  port: number;
  username: string | undefined;
  password: string | undefined;
  db: number;
  tls: boolean;
}

const EXAMPLE = 'redis://[user:password@]host:6379/0 (or rediss:// for TLS)';

/** Reads a redis:// or rediss:// URL; throws a ConfigurationError naming what is wrong. */
export function parseRedisUrl(url: string): RedisTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigurationError(`the Redis URL is not a valid URL; expected ${EXAMPLE}`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new ConfigurationError(
      `the Redis URL has scheme ${parsed.protocol}; expected ${EXAMPLE}`,
    );
  }
  if (!parsed.hostname)
    throw new ConfigurationError(`the Redis URL has no host; expected ${EXAMPLE}`);
  const port = parsed.port ? Number(parsed.port) : 6379;
  const dbText = parsed.pathname.replace(/^\//, '');
  if (dbText !== '' && !/^\d{1,5}$/.test(dbText)) {
    throw new ConfigurationError(
      `the Redis URL names database ${JSON.stringify(dbText)}; the path must be a database number such as /0`,
    );
  }
  return {
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
    port,
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    db: dbText === '' ? 0 : Number(dbText),
    tls: parsed.protocol === 'rediss:',
  };
}

export function describeTarget(t: RedisTarget): string {
  return `${t.tls ? 'rediss' : 'redis'}://${t.host}:${t.port}/${t.db}`;
}

export interface ConnectOptions {
  /** How long to keep trying to reach the server at start. Default 10 s. */
  connectTimeoutMs?: number;
  /** Told about connection errors after start (the client reconnects by itself). */
  onError?: (error: Error) => void;
  /** Name shown by CLIENT LIST. */
  connectionName?: string;
  /**
   * How long a command may go unanswered before the connection is taken for dead and
   * replaced. Default 10 s (see `connectionSafety`).
   */
  storeTimeoutMs?: number;
}

/** The default store timeout: a third of the default 30-second lease. */
export const DEFAULT_STORE_TIMEOUT_MS = 10_000;

/**
 * What keeps a connection from hanging on a silent network (packets dropped, no reset).
 * `socketTimeout`: when commands wait and nothing at all has come back for `timeoutMs`,
 * ioredis destroys the socket, fails the commands on it and reconnects; a handshake that
 * goes unanswered counts too. ioredis's `commandTimeout` would only fail each command and
 * keep the dead socket, so every later command would wait for it too. TCP keepalive
 * probes an idle connection after `timeoutMs`. Without these a command sent into a cut
 * waits for TCP's own retransmission timeout, about 15 minutes on Linux.
 * Commands caught on a dead connection are sent again once a new one is ready (ioredis's
 * default), so their callers hear how they went.
 *
 * A blocking read must not wait longer than `timeoutMs` on such a connection; the ticket
 * reader's connection allows for its blocks (tickets.ts).
 */
export function connectionSafety(timeoutMs: number) {
  return {
    socketTimeout: timeoutMs,
    keepAlive: timeoutMs,
  };
}

/**
 * A connected client that reconnects by itself (backing off to 2 s) and re-sends the
 * commands it had queued. At start it tries until `connectTimeoutMs`, then gives up with
 * a StoreError that says where it tried.
 */
export async function connectRedis(
  target: RedisTarget,
  options: ConnectOptions = {},
): Promise<Redis> {
  const timeoutMs = options.connectTimeoutMs ?? 10_000;
  const storeTimeoutMs = options.storeTimeoutMs ?? DEFAULT_STORE_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  let starting = true;
  let lastError: Error | null = null;
  let attempts = 0;
  const redisOptions: RedisOptions = {
    host: target.host,
    port: target.port,
    username: target.username,
    password: target.password,
    db: target.db,
    tls: target.tls ? { servername: target.host } : undefined,
    connectionName: options.connectionName ?? 'dispatchbox',
    lazyConnect: true,
    connectTimeout: Math.min(5000, timeoutMs, storeTimeoutMs),
    ...connectionSafety(storeTimeoutMs),
    // Commands wait through a reconnect instead of failing at once; the worker retries
    // whatever still fails, and the store's tokens make a repeated write harmless.
    maxRetriesPerRequest: 20,
    retryStrategy: (times) => {
      attempts = times;
      if (starting && Date.now() + 100 > deadline) return null;
      return Math.min(50 * 2 ** Math.min(times, 6), 2000);
    },
  };
  const client = new Redis(redisOptions);
  let refuse: (error: Error) => void = () => {};
  client.on('error', (error: Error) => {
    lastError = error;
    if (!starting) options.onError?.(error);
    // Retrying cannot help a refused login or a missing database: say so at once. (A
    // missing database is reported before 'ready', which would otherwise go on in db 0.)
    const refusal = starting ? refusalOf(error, target) : null;
    if (refusal) refuse(refusal);
  });
  let timer: NodeJS.Timeout | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    refuse = reject;
    client.once('ready', resolve);
    client.once('end', () => reject(lastError ?? new Error('connection closed')));
    // A server that accepts the connection but never gets ready (e.g. refused
    // credentials) ends the wait too.
    timer = setTimeout(
      () => reject(lastError ?? new Error('the server did not get ready')),
      timeoutMs + 1000,
    );
  });
  client.connect().catch(() => {
    // the retry strategy carries on; 'ready' or 'end' settles the outcome
  });
  try {
    await ready;
  } catch (error) {
    client.disconnect();
    if (error instanceof ConfigurationError) throw error;
    const cause = error as Error;
    throw new StoreError(
      `could not reach Redis at ${describeTarget(target)} after ${attempts + 1} attempts over ${timeoutMs} ms: ${redactSecrets(cause.message)}. Check DISPATCHBOX_DATABASE_URL and that the server is running.`,
      { cause },
    );
  } finally {
    clearTimeout(timer);
    starting = false;
  }
  return client;
}

/** The server's refusals that no retry can change, as the error that says what to fix. */
function refusalOf(error: Error, target: RedisTarget): ConfigurationError | null {
  const reason = redactSecrets(error.message);
  if (/^ERR DB index is out of range/.test(error.message)) {
    return new ConfigurationError(
      `the Redis URL names database ${target.db}, which the server at ${describeTarget(target)} does not have (${reason}); Redis has databases 0-15 unless its \`databases\` setting says more`,
      { cause: error },
    );
  }
  // ("Ready check failed: NOAUTH …" when the server wants a password and got none)
  if (/\b(WRONGPASS|NOAUTH|NOPERM)\b|ERR invalid (password|username)/.test(error.message)) {
    return new ConfigurationError(
      `Redis at ${describeTarget(target)} refused the connection: ${reason}. Check the user name and password in DISPATCHBOX_DATABASE_URL.`,
      { cause: error },
    );
  }
  return null;
}
