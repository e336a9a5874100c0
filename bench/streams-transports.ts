/**
 * The transports of the streams benchmark, each on 127.0.0.1: how to make one (a fresh
 * instance per run: a stream service closes its transport when it stops), whether its
 * module is in this tree yet, and what to clean up after. The loops on each transport's
 * raw client library are in streams-raw.ts.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Redis as RedisClient } from 'ioredis';
import type { StreamTransport } from '../src/streams/index.js';

export type TransportName = 'redis' | 'nats' | 'kafka';
export const TRANSPORT_NAMES: readonly TransportName[] = ['redis', 'nats', 'kafka'];

/** Redis db 12: the tests use 5, the peers' benchmark 9, the console's 11. */
export const REDIS_URL = 'redis://127.0.0.1:6379/12';
export const NATS_SERVERS = 'nats://127.0.0.1:4222';

/** Every key and stream of this run starts with it (deleted at the end). */
export const RUN_PREFIX = `bench-streams-${process.pid}-${Date.now().toString(36)}`;

/** src/streams/transports, as TypeScript (under tsx) or compiled (streams.tsconfig.json). */
const TRANSPORTS_DIR = fileURLToPath(new URL('../src/streams/transports/', import.meta.url));

/**
 * ioredis as the library's own transport loads it (the repository's node_modules, not
 * bench/'s older copy), so that the raw loop and the transport run the same client.
 */
export const RootRedis = (
  createRequire(new URL('../package.json', import.meta.url))('ioredis') as {
    Redis: typeof RedisClient;
  }
).Redis;

export function newRedisClient(): RedisClient {
  return new RootRedis(REDIS_URL, { maxRetriesPerRequest: 5 });
}

/** Whether the transport's module is in this tree (NATS and Kafka land on main later). */
export function transportPresent(name: TransportName): boolean {
  return ['index.ts', 'index.js'].some((file) => existsSync(`${TRANSPORTS_DIR}${name}/${file}`));
}

export interface TransportSetup {
  name: TransportName;
  /** A new transport on the shared server (a stream service closes its transport on stop). */
  make(): Promise<StreamTransport>;
  /** Where the raw loop finds what the transport made of a topic. */
  naming: {
    redisStreamKey?: (topic: string) => string;
    natsStream?: (topic: string) => string;
    kafkaBrokers?: string;
  };
  /** Deletes what the run left on the server. */
  cleanup(topics: string[]): Promise<void>;
}

/** Deletes every Redis key of this run (SCAN + UNLINK). */
export async function deleteRunKeys(): Promise<number> {
  const client = newRedisClient();
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${RUN_PREFIX}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await client.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
  return deleted;
}

type Factory = (options: unknown) => StreamTransport;

async function factoryOf(name: TransportName, exported: string): Promise<Factory> {
  const module = (await import(`../src/streams/transports/${name}/index.js`)) as Record<
    string,
    Factory
  >;
  const factory = module[exported];
  if (!factory) throw new Error(`src/streams/transports/${name} exports no ${exported}`);
  return factory;
}

/** The setup of one transport; null (with the reason) when it cannot run here. */
export async function setupTransport(
  name: TransportName,
): Promise<{ setup: TransportSetup } | { skipped: string }> {
  if (!transportPresent(name)) {
    return { skipped: `src/streams/transports/${name} is not in this tree yet` };
  }
  if (name === 'redis') {
    const redisStreams = await factoryOf('redis', 'redisStreams');
    const keyPrefix = `${RUN_PREFIX}:`;
    return {
      setup: {
        name,
        make: () => Promise.resolve(redisStreams({ url: REDIS_URL, keyPrefix })),
        naming: { redisStreamKey: (topic) => `${keyPrefix}${topic}` },
        cleanup: async () => void (await deleteRunKeys()),
      },
    };
  }
  if (name === 'nats') return natsSetup();
  return kafkaSetup();
}

async function natsSetup(): Promise<{ setup: TransportSetup } | { skipped: string }> {
  const natsJetStream = await factoryOf('nats', 'natsJetStream');
  const { streamNameFor } = (await import('../src/streams/transports/nats/index.js')) as {
    streamNameFor: (topic: string, prefix: string) => string;
  };
  // stream names allow letters, digits, '_' and '-' only
  const streamPrefix = `bench_${process.pid}_`;
  return {
    setup: {
      name: 'nats',
      make: () => Promise.resolve(natsJetStream({ servers: NATS_SERVERS, streamPrefix })),
      naming: { natsStream: (topic) => streamNameFor(topic, streamPrefix) },
      cleanup: async () => {
        const { deleteNatsStreams } = await import('./streams-raw.js');
        await deleteNatsStreams(streamPrefix);
      },
    },
  };
}

async function kafkaSetup(): Promise<{ setup: TransportSetup } | { skipped: string }> {
  const kafkaTransport = await factoryOf('kafka', 'kafkaTransport');
  // test/helpers/kafka-mock.ts comes with the Kafka transport; named at run time so this
  // file compiles before it lands
  const helper = '../test/helpers/kafka-mock.js';
  const { startKafkaMock } = (await import(helper)) as {
    startKafkaMock: (brokers: number) => Promise<{ brokers: string; stop: () => Promise<void> }>;
  };
  let cluster;
  try {
    cluster = await startKafkaMock(3);
  } catch (error) {
    return { skipped: `the kcat mock cluster did not start: ${(error as Error).message}` };
  }
  const brokers = cluster.brokers;
  return {
    setup: {
      name: 'kafka',
      make: () => Promise.resolve(kafkaTransport({ brokers })),
      naming: { kafkaBrokers: brokers },
      // the cluster lives in memory in kcat: stopping it forgets everything
      cleanup: () => cluster.stop(),
    },
  };
}
