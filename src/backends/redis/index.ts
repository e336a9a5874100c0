import { neverThrows } from '../../core/log-safely.js';
import { ConfigurationError } from '../../core/errors.js';
import { connectRedis, parseRedisUrl } from './connection.js';
import { isValidPrefix } from './keys.js';
import { RedisBackend } from './redis-backend.js';

export interface RedisBackendOptions {
  /** redis://[user:password@]host:6379/db, or rediss:// for TLS. */
  url: string;
  /** Every key starts with it; two applications can share a Redis with different prefixes. Default `dispatchbox`. */
  prefix?: string | undefined;
  /** How long to keep trying to reach the server at start before giving up. Default 10 s. */
  connectTimeoutMs?: number | undefined;
  /** Told about connection errors after start; the client reconnects by itself. */
  onError?: ((error: Error) => void) | undefined;
  /**
   * How long a command may go unanswered before its connection is taken for dead and
   * replaced. Default 10 s; keep it at a third of the workers' lease or less.
   */
  storeTimeoutMs?: number | undefined;
}

/** The Redis store (7+), through ioredis. */
export async function createRedisBackend(options: RedisBackendOptions): Promise<RedisBackend> {
  const target = parseRedisUrl(options.url);
  const prefix = options.prefix ?? 'dispatchbox';
  if (!isValidPrefix(prefix)) {
    throw new ConfigurationError(
      `the Redis key prefix ${JSON.stringify(prefix)} must be 1-64 letters, digits, '_', '.', ':' or '-'`,
    );
  }
  const client = await connectRedis(target, {
    connectTimeoutMs: options.connectTimeoutMs,
    onError: neverThrows(options.onError),
    storeTimeoutMs: options.storeTimeoutMs,
  });
  return new RedisBackend(client, prefix, neverThrows(options.onError));
}

export { RedisBackend, parseRedisUrl };
