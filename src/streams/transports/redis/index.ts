/**
 * Redis Streams for stream services: `redisStreams({ url })` or `redisStreams({ client })`.
 * Published as `dispatchbox/streams/redis`; needs ioredis (an optional peer dependency).
 * docs/streams/redis.md describes the key layout and how a member takes over another's
 * entries.
 */
import type { StreamTransport } from '../../transport.js';
import { parseRedisStreamsOptions, type RedisStreamsOptions } from './options.js';
import { RedisStreamsTransport } from './transport.js';

/**
 * A Redis Streams transport. Checks the options at once (a ConfigurationError says what
 * is wrong); connects in the background, and reconnects by itself.
 */
export function redisStreams(options: RedisStreamsOptions): StreamTransport {
  return new RedisStreamsTransport(parseRedisStreamsOptions(options));
}

export type { RedisStreamsOptions };
