import { Redis } from 'ioredis';
import { z } from 'zod';
import { ConfigurationError } from '../../../core/errors.js';

/** What `redisStreams` takes. Give either `url` or `client`. */
export interface RedisStreamsOptions {
  /**
   * redis://[user:password@]host:6379/db, or rediss:// for TLS. The transport makes its
   * client from it and closes that client on close().
   */
  url?: string | undefined;
  /**
   * A client of the application's own (ioredis). The transport uses it for everything but
   * blocking reads (each consumer reads on a duplicate of it) and never closes it.
   */
  client?: Redis | undefined;
  /**
   * Put in front of every topic, as is, to make its stream key: `app:` makes topic
   * `orders` the stream `app:orders`. Default none.
   */
  keyPrefix?: string | undefined;
  /**
   * Trims each stream to about this many entries on every write (XADD MAXLEN ~): Redis
   * trims whole nodes only, so a stream holds a little more. Default: keep every entry.
   * Entries trimmed before a group read them are lost to it; set it well above any lag.
   */
  maxLen?: number | undefined;
  /** Told about connection errors; the client reconnects by itself. Default: ignored. */
  onError?: ((error: Error) => void) | undefined;
}

export interface ParsedRedisStreamsOptions {
  /** Set when the transport makes (and so owns) its client. */
  url: string | null;
  client: Redis | null;
  keyPrefix: string;
  maxLen: number | null;
  onError: (error: Error) => void;
}

const URL_EXAMPLE = 'redis://[user:password@]host:6379/0 (or rediss:// for TLS)';

/** An ioredis client (not a Cluster), told apart by shape: the application may load its own copy of ioredis. */
function isRedisClient(value: unknown): value is Redis {
  if (typeof value !== 'object' || value === null) return false;
  const client = value as Partial<Redis> & { isCluster?: boolean };
  return (
    client.isCluster !== true &&
    typeof client.duplicate === 'function' &&
    typeof client.xreadgroup === 'function' &&
    typeof client.pipeline === 'function'
  );
}

const optionsSchema = z
  .object({
    url: z.string({ error: `must be a string such as ${URL_EXAMPLE}` }).optional(),
    client: z
      .custom<Redis>(isRedisClient, {
        error:
          'must be an ioredis client (new Redis(...)); a Redis Cluster client is not supported, as one consumer reads all its streams on one connection',
      })
      .optional(),
    keyPrefix: z
      .string({ error: "must be a string put in front of every stream key, such as 'app:'" })
      .max(200, { error: 'must be at most 200 characters' })
      .optional(),
    maxLen: z
      .number({ error: 'must be a number of entries' })
      .int({ error: 'must be a whole number of entries' })
      .positive({ error: 'must be at least 1 (leave it out to keep every entry)' })
      .optional(),
    onError: z
      .custom<(error: Error) => void>((value) => typeof value === 'function', {
        error: 'must be a function taking the error',
      })
      .optional(),
  })
  .strict();

/** Checks the options; throws a ConfigurationError naming the first thing wrong and how to fix it. */
export function parseRedisStreamsOptions(options: unknown): ParsedRedisStreamsOptions {
  const parsed = optionsSchema.safeParse(options ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    if (issue.code === 'unrecognized_keys') {
      // names the unknown keys, never their values
      throw new ConfigurationError(
        `redisStreams options: unknown option ${issue.keys.map((key) => `'${key}'`).join(', ')}; the options are url, client, keyPrefix, maxLen and onError`,
      );
    }
    const path = issue.path.map(String).join('.');
    throw new ConfigurationError(`redisStreams options${path ? ` ${path}` : ''}: ${issue.message}`);
  }
  const { url, client, keyPrefix, maxLen, onError } = parsed.data;
  if (url !== undefined && client !== undefined) {
    throw new ConfigurationError(
      'redisStreams options: give either url or client, not both (with a client, the transport uses its connection settings)',
    );
  }
  if (url === undefined && client === undefined) {
    throw new ConfigurationError(
      `redisStreams options: give url (${URL_EXAMPLE}) or client (an ioredis client of your own)`,
    );
  }
  if (url !== undefined) checkRedisUrl(url);
  if (client?.options.keyPrefix) {
    // ioredis would put it on the keys sent, but not on the stream names Redis replies with
    throw new ConfigurationError(
      "redisStreams options client: the client was made with ioredis's keyPrefix option; make it without, and give redisStreams the keyPrefix instead",
    );
  }
  return {
    url: url ?? null,
    client: client ?? null,
    keyPrefix: keyPrefix ?? '',
    maxLen: maxLen ?? null,
    onError: onError ?? (() => {}),
  };
}

/**
 * Throws a ConfigurationError when `url` is no redis:// URL. The message never quotes the
 * URL: it may hold a password.
 */
function checkRedisUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigurationError(
      `redisStreams options url: not a valid URL; expected ${URL_EXAMPLE}`,
    );
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new ConfigurationError(
      `redisStreams options url: has scheme ${parsed.protocol}; expected ${URL_EXAMPLE}`,
    );
  }
  if (!parsed.hostname) {
    throw new ConfigurationError(`redisStreams options url: has no host; expected ${URL_EXAMPLE}`);
  }
  const db = parsed.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d{1,5}$/.test(db)) {
    throw new ConfigurationError(
      `redisStreams options url: the path must be a database number such as /0, not ${JSON.stringify(db.slice(0, 40))}`,
    );
  }
}

/** Where the URL points, without its user and password, for messages. */
export function describeUrl(url: string): string {
  const parsed = new URL(url);
  return `${parsed.protocol}//${parsed.host}${parsed.pathname || '/0'}`;
}

/** How long a command may go unanswered before its connection is taken for dead and replaced. */
export const SOCKET_TIMEOUT_MS = 10_000;

/** The transport's own client: reconnects by itself (backing off to 2 s) and re-sends what it had queued. */
export function clientFromUrl(url: string, onError: (error: Error) => void): Redis {
  const client = new Redis(url, {
    connectionName: 'dispatchbox-streams',
    // see consumer.ts: a silent network must not hold a command for TCP's 15 minutes
    socketTimeout: SOCKET_TIMEOUT_MS,
    keepAlive: SOCKET_TIMEOUT_MS,
    maxRetriesPerRequest: 20,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
  });
  client.on('error', onError);
  return client;
}

const consumerOptionsSchema = z.object({
  topics: z
    .array(z.string().min(1, { error: 'a topic must not be empty' }), {
      error: 'must be a list of topic names',
    })
    .min(1, { error: 'must name at least one topic' })
    .refine((topics) => new Set(topics).size === topics.length, {
      error: 'names a topic twice',
    }),
  group: z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' }),
  consumerName: z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' }),
  claimIdleMs: z
    .number({ error: 'must be a number of milliseconds' })
    .int({ error: 'must be a whole number of milliseconds' })
    .positive({ error: 'must be at least 1 ms' }),
  startAt: z.enum(['earliest', 'latest'], { error: "must be 'earliest' or 'latest'" }),
});

/** Checks a consumer's options; throws a ConfigurationError naming what is wrong. */
export function checkConsumerOptions(options: unknown): void {
  const parsed = consumerOptionsSchema.safeParse(options);
  if (parsed.success) return;
  const issue = parsed.error.issues[0]!;
  const path = issue.path.map(String).join('.');
  throw new ConfigurationError(`Redis Streams consumer options ${path}: ${issue.message}`);
}
