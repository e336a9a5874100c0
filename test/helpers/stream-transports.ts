import type { StreamTransport } from '../../src/streams/index.js';

/**
 * How a test (or a child process of one) makes a transport: which one, and its options as
 * JSON, so a child process can make the same transport as its parent.
 */
export interface TransportSpec {
  kind: 'redis' | 'nats' | 'kafka';
  options: Record<string, unknown>;
}

const FACTORIES = {
  redis: 'redisStreams',
  nats: 'natsJetStream',
  kafka: 'kafkaTransport',
} as const;

export async function makeTransport(spec: TransportSpec): Promise<StreamTransport> {
  // Loaded by name so that this helper does not tie every test to every transport's client.
  const module = (await import(
    /* @vite-ignore */ `../../src/streams/transports/${spec.kind}/index.js`
  )) as Record<string, (options: unknown) => StreamTransport>;
  const factory = module[FACTORIES[spec.kind]];
  if (!factory)
    throw new Error(`src/streams/transports/${spec.kind} exports no ${FACTORIES[spec.kind]}`);
  return factory(spec.options);
}
