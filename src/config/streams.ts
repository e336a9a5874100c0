/**
 * The settings of `dispatchbox streams` (the stream handler modules) and `dispatchbox
 * relay` (the outbox relay): which transport, where its server is, which handlers, and
 * how handled events are remembered.
 */
import { z } from 'zod';
import { resolveSettings, type ConfigSources } from './load.js';
import { duration, setting, type SettingValues } from './setting.js';

export const STREAMS_SETTINGS = {
  streamsUrl: setting<string | undefined>({
    env: 'DISPATCHBOX_STREAMS_URL',
    flag: null,
    scope: 'streams',
    accepted:
      'redis://host:6379/0, nats://host:4222 (comma-separated for several) or kafka://host:9092,host2:9092',
    schema: z
      .string()
      .trim()
      .regex(/^(?:rediss?|nats|tls|kafka):\/\/\S+$/, 'a redis://, nats:// or kafka:// URL'),
    defaultText: 'unset',
    fallback: undefined,
    description:
      'The stream server, and by its scheme the transport: Redis Streams, NATS JetStream or Kafka. Required by `dispatchbox streams` and `dispatchbox relay`.',
    option: '`redisStreams({ url })`, `natsJetStream({ servers })`, `kafkaTransport({ brokers })`',
    secret: true,
  }),
  streamsDir: setting<string>({
    env: 'DISPATCHBOX_STREAMS_DIR',
    flag: 'dir',
    scope: 'streams',
    accepted: 'a directory path',
    schema: z.string().trim().min(1),
    defaultText: './stream-handlers',
    fallback: './stream-handlers',
    description:
      'The stream handler modules: one file per stream, each exporting `stream`, `group` and `handle(data, ctx)`.',
    option: '—',
  }),
  streamsDedup: setting<'auto' | 'store' | 'redis' | 'none'>({
    env: 'DISPATCHBOX_STREAMS_DEDUP',
    flag: 'dedup',
    scope: 'streams',
    accepted: 'auto, store, redis or none',
    schema: z.enum(['auto', 'store', 'redis', 'none']),
    defaultText: 'auto',
    fallback: 'auto',
    description:
      "Where handled event ids are remembered: `store` = the SQL store's table, `redis` = the Redis Streams server (SET with a TTL), `none`. `auto` picks `store` on PostgreSQL or the embedded store, else `redis` with the Redis transport, else none.",
    option: '`.withDedup(store)`',
  }),
  streamsDedupTtlMs: setting<number>({
    env: 'DISPATCHBOX_STREAMS_DEDUP_TTL',
    flag: 'dedup-ttl',
    scope: 'streams',
    accepted: "a duration such as '24h', from 1s to 30d",
    schema: duration(1000, 30 * 86_400_000),
    defaultText: '24h',
    fallback: 86_400_000,
    description: 'How long a handled event id is remembered: a redelivery within it is skipped.',
    option: '`.withDedup(store, { ttl })`',
  }),
} as const;

export type StreamsConfig = SettingValues<typeof STREAMS_SETTINGS>;

export function loadStreamsConfig(sources: ConfigSources = {}): StreamsConfig {
  return resolveSettings(STREAMS_SETTINGS, sources);
}
