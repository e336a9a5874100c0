import { ConfigurationError } from '../core/errors.js';
import type { StreamTransport } from './transport.js';

/** The transport a URL's scheme names. */
export function transportKindOf(url: string): 'redis' | 'nats' | 'kafka' {
  const scheme = /^([a-z]+):\/\//.exec(url)?.[1];
  if (scheme === 'redis' || scheme === 'rediss') return 'redis';
  if (scheme === 'nats' || scheme === 'tls') return 'nats';
  if (scheme === 'kafka') return 'kafka';
  throw new ConfigurationError(
    'the stream URL must start with redis:// (or rediss://), nats:// (or tls://) or kafka://, which names the transport',
  );
}

/**
 * Opens the transport of a stream URL: redis://… for Redis Streams, nats://… (several
 * comma-separated) for NATS JetStream, kafka://host:9092,host2:9092 for Kafka. The
 * transport's module is loaded only when used, so its client is needed only then.
 */
export async function openStreamTransport(url: string): Promise<StreamTransport> {
  const kind = transportKindOf(url);
  // Loaded by path, so a Redis user never loads the NATS or Kafka client.
  const module = (await import(/* @vite-ignore */ `./transports/${kind}/index.js`)) as Record<
    string,
    (options: unknown) => StreamTransport
  >;
  switch (kind) {
    case 'redis':
      return module.redisStreams!({ url });
    case 'nats':
      return module.natsJetStream!({ servers: url.split(',').map((s) => s.trim()) });
    case 'kafka':
      return module.kafkaTransport!({
        brokers: url.split(',').map((s) => s.trim().replace(/^kafka:\/\//, '')),
      });
  }
}
