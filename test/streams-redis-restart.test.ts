/**
 * The Redis Streams transport across a kill -9 of its server (a private redis-server on a
 * free port): with the data kept (append-only file, fsync on every write) the same
 * transport and consumer go on where they were, nothing lost or handed out twice; with the
 * data lost, the consumer makes its group again and new entries flow.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import type {
  StreamTransport,
  TransportConsumer,
  TransportMessage,
} from '../src/streams/transport.js';
import { redisStreams } from '../src/streams/transports/redis/index.js';
import { waitUntil } from './fixtures/wait-until.js';
import { PrivateRedis, redisServerInstalled } from './helpers/redis-server.js';

const installed = await redisServerInstalled();
if (!installed) {
  if (process.env.CI)
    throw new Error('redis-server is not installed, and CI needs it for the restart tests');
  console.warn(
    '\n*** redis-server is not installed: the Redis Streams restart tests did NOT run ***\n',
  );
}

/**
 * Fetches (and acknowledges) until `count` messages came, going on through failed
 * fetches as the stream runner does. Returns the messages and how many fetches failed.
 */
async function drain(consumer: TransportConsumer, count: number, timeoutMs = 20_000) {
  const got: TransportMessage[] = [];
  let failures = 0;
  const deadline = Date.now() + timeoutMs;
  while (got.length < count) {
    if (Date.now() > deadline) throw new Error(`got ${got.length} of ${count} messages`);
    try {
      const batch = await consumer.fetch(20, 200);
      await consumer.ack(batch);
      got.push(...batch);
    } catch {
      failures++;
      await new Promise((resolve) => setTimeout(resolve, 100)); // the runner's back-off
    }
  }
  return { got, failures };
}

function messages(topic: string, from: number, count: number) {
  return Array.from({ length: count }, (_, i) => ({
    topic,
    key: `k${(from + i) % 4}`,
    value: String(from + i),
    headers: {},
    id: `event-${from + i}`,
  }));
}

const numbers = (got: TransportMessage[]) => got.map((m) => Number(m.value)).sort((a, b) => a - b);
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describe.runIf(installed)('Redis Streams transport across a Redis restart', () => {
  let server: PrivateRedis | undefined;
  let transport: StreamTransport | undefined;
  let observer: Redis | undefined;
  afterEach(async () => {
    await transport?.close();
    observer?.disconnect();
    await server?.destroy();
  });

  async function start(client?: (url: string) => Redis) {
    server = await PrivateRedis.create();
    transport = redisStreams(
      client
        ? { client: client(server.url), keyPrefix: 'app:' }
        : { url: server.url, keyPrefix: 'app:' },
    );
    observer = new Redis(server.url, { maxRetriesPerRequest: null });
    observer.on('error', () => {});
    const producer = await transport.producer();
    const consumer = await transport.consumer({
      topics: ['orders'],
      group: 'billing',
      consumerName: 'member-1',
      claimIdleMs: 30_000,
      startAt: 'earliest',
    });
    return { server, transport, producer, consumer, observer };
  }

  /** Until the consumer's read is blocked on the server. */
  async function readBlocked(observer: Redis) {
    await waitUntil(
      async () => String(await observer.client('LIST')).includes('cmd=xreadgroup'),
      5000,
      'the consumer blocks in XREADGROUP',
      10,
    );
  }

  it('goes on with the same consumer after kill -9 and restart, nothing lost or doubled', async () => {
    const { server, transport, producer, consumer, observer } = await start();
    await producer.send(messages('orders', 0, 30));
    const { got: before } = await drain(consumer, 20);
    const inHand = await consumer.fetch(10, 500); // fetched, not acknowledged yet
    expect(inHand).toHaveLength(10);
    // nothing new: it blocks, then the server goes; its failure is expected from now on
    const whileDown = expect(consumer.fetch(10, 60_000)).rejects.toThrow();
    await readBlocked(observer);

    const killedAt = Date.now();
    await server.kill();
    await whileDown;
    expect(Date.now() - killedAt).toBeLessThan(2000); // not held for the outage
    await expect(consumer.fetch(10, 300)).rejects.toThrow(/Redis is not reachable/);
    expect(transport.connected()).toBe(false);
    const sentWhileDown = producer.send(messages('orders', 30, 5)); // queued by the client

    await server.start();
    await sentWhileDown;
    await producer.send(messages('orders', 35, 5));
    await consumer.ack(inHand); // what was in hand across the outage is acknowledged after it
    const { got: after } = await drain(consumer, 10);

    expect(numbers([...before, ...inHand, ...after])).toEqual(range(0, 40));
    // the entries in hand were not handed out again after the reconnect
    expect(after.filter((m) => Number(m.value) >= 20 && Number(m.value) < 30)).toEqual([]);
    expect(transport.connected()).toBe(true);
    expect([await consumer.pending(), await consumer.lag()]).toEqual([0, 0]);
    expect(await consumer.fetch(10, 50)).toEqual([]);
  });

  it('makes its group again when the restarted server lost the data, and new entries flow', async () => {
    const { server, producer, consumer, observer } = await start();
    await producer.send(messages('orders', 0, 5));
    await drain(consumer, 5);
    // its failure is expected from now on, not only once the server is down
    const whileDown = expect(consumer.fetch(10, 60_000)).rejects.toThrow();
    await readBlocked(observer);

    await server.kill();
    await whileDown;
    // a server restarted without its data (no persistence, a new node): no stream, no group
    await rm(join(server.dir, 'appendonlydir'), { recursive: true, force: true });
    await server.start();
    await waitUntil(() => observer.status === 'ready', 10_000, 'the observer is back');
    expect(await observer.exists('app:orders')).toBe(0);

    await producer.send(messages('orders', 100, 10));
    const { got } = await drain(consumer, 10);
    expect(numbers(got)).toEqual(range(100, 110));
    const groups = (await observer.xinfo('GROUPS', 'app:orders')) as unknown[][];
    expect(groups.map((group) => group[1])).toEqual(['billing']);
  });

  it('fails a fetch held by a hung server (SIGSTOP) instead of waiting on it, and goes on after', async () => {
    let application: Redis | undefined;
    const { server, producer, consumer, observer } = await start((url) => {
      // the application's client, with a short socket timeout; the reader adds its longest block
      application = new Redis(url, { socketTimeout: 500, maxRetriesPerRequest: null });
      application.on('error', () => {});
      return application;
    });
    try {
      const whileHung = expect(consumer.fetch(10, 60_000)).rejects.toThrow();
      await readBlocked(observer);
      server.pause();
      const pausedAt = Date.now();
      await whileHung;
      // held at most its block (5 s, at most) and the socket timeout, not for the outage
      expect(Date.now() - pausedAt).toBeLessThan(8000);
      server.resume();
      await producer.send(messages('orders', 0, 3));
      const { got } = await drain(consumer, 3);
      expect(numbers(got)).toEqual([0, 1, 2]);
    } finally {
      server.resume();
      await transport?.close();
      transport = undefined;
      application?.disconnect();
    }
  });
});
