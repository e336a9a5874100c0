/**
 * The Redis Streams transport on the shared Redis (db 5, a key prefix of this run's own):
 * what it writes, how a group's members share and take over entries, and its numbers.
 * The server-restart cases are in streams-redis-restart.test.ts, the options
 * it refuses in streams-redis-options.test.ts.
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type {
  ConsumerOptions,
  OutgoingMessage,
  StreamTransport,
  TransportMessage,
} from '../src/streams/transport.js';
import { redisStreams } from '../src/streams/transports/redis/index.js';
import { deletePrefix, redisAvailable, REDIS_URL, uniquePrefix } from './helpers/redis.js';
import { fetchCount } from './helpers/stream-fetch.js';

const available = await redisAvailable();

function message(topic: string, key: string | null, n: number): OutgoingMessage {
  return { topic, key, value: `{"n":${n}}`, headers: { n: String(n) }, id: `event-${n}` };
}

describe.runIf(available)('Redis Streams transport', () => {
  const prefix = uniquePrefix('streams-redis');
  const keyPrefix = `${prefix}:`;
  let redis: Redis;
  let transport: StreamTransport;
  const toClose: { close(): Promise<void> }[] = [];
  let topicNumber = 0;
  /** A topic of its own for each test. */
  const newTopic = () => `topic-${++topicNumber}`;
  const consumerOptions = (topics: string[], more: Partial<ConsumerOptions> = {}) => ({
    topics,
    group: 'workers',
    consumerName: `member-${Math.random().toString(36).slice(2, 8)}`,
    claimIdleMs: 30_000,
    startAt: 'earliest' as const,
    ...more,
  });
  const open = async (options: ConsumerOptions) => {
    const consumer = await transport.consumer(options);
    toClose.push(consumer);
    return consumer;
  };

  beforeAll(() => {
    redis = new Redis(REDIS_URL);
    transport = redisStreams({ url: REDIS_URL, keyPrefix });
  });
  afterEach(async () => {
    await Promise.all(toClose.splice(0).map((c) => c.close()));
  });
  afterAll(async () => {
    await transport?.close();
    await deletePrefix(prefix);
    redis?.disconnect();
  });

  it('writes v, k, h and id fields and reads them back with keys and headers', async () => {
    const topic = newTopic();
    const producer = await transport.producer();
    await producer.send([
      { topic, key: 'order-1', value: '{"a":1}', headers: { 'trace-id': 't1' }, id: 'e-1' },
      { topic, key: null, value: '{"b":2}', headers: {}, id: 'e-2' },
    ]);
    const raw = await redis.xrange(`${keyPrefix}${topic}`, '-', '+');
    expect(raw.map(([, fields]) => fields)).toEqual([
      ['v', '{"a":1}', 'k', 'order-1', 'h', '{"trace-id":"t1"}', 'id', 'e-1'],
      ['v', '{"b":2}', 'k', '', 'h', '{}', 'id', 'e-2'],
    ]);

    const consumer = await open(consumerOptions([topic]));
    const got = await consumer.fetch(10, 1000);
    expect(got).toEqual([
      {
        topic,
        key: 'order-1',
        value: '{"a":1}',
        headers: { 'trace-id': 't1' },
        position: raw[0]![0],
        deliveryCount: 1,
        orderKey: `${topic}\u0000order-1`,
      },
      {
        topic,
        key: null,
        value: '{"b":2}',
        headers: {},
        position: raw[1]![0],
        deliveryCount: 1,
        orderKey: `${topic}\u0000`,
      },
    ]);
    expect(await consumer.pending()).toBe(2);
    await consumer.ack(got);
    expect(await consumer.pending()).toBe(0);
    expect(await consumer.fetch(10, 50)).toEqual([]);
  });

  it("keeps a stream's order across batches and sends, and reads many streams at once", async () => {
    const [first, second] = [newTopic(), newTopic()];
    const producer = await transport.producer();
    // two sends in flight at once: each is one pipeline, sent in call order
    await Promise.all([
      producer.send(Array.from({ length: 150 }, (_, n) => message(first, `k${n % 3}`, n))),
      producer.send(Array.from({ length: 150 }, (_, n) => message(first, `k${n % 3}`, 150 + n))),
    ]);
    await producer.send(Array.from({ length: 40 }, (_, n) => message(second, 'x', n)));
    const consumer = await open(consumerOptions([first, second]));
    // a read over two streams may return up to COUNT from each: never more than asked
    const batches: TransportMessage[][] = [];
    let total = 0;
    while (total < 340) {
      const batch = await consumer.fetch(25, 500);
      expect(batch.length).toBeLessThanOrEqual(25);
      batches.push(batch);
      total += batch.length;
    }
    const all = batches.flat();
    const numbers = (topic: string) =>
      all.filter((m) => m.topic === topic).map((m) => Number(m.headers.n));
    expect(numbers(first)).toEqual(Array.from({ length: 300 }, (_, n) => n));
    expect(numbers(second)).toEqual(Array.from({ length: 40 }, (_, n) => n));
    await consumer.ack(all);
    expect(await consumer.lag()).toBe(0);
  });

  it('creates topics and groups idempotently when five starts race', async () => {
    const [topic, other] = [newTopic(), newTopic()];
    await Promise.all(Array.from({ length: 5 }, () => transport.ensureTopics([topic, other])));
    expect(await redis.type(`${keyPrefix}${topic}`)).toBe('stream');
    expect(await redis.xlen(`${keyPrefix}${topic}`)).toBe(0);
    expect(await redis.xinfo('GROUPS', `${keyPrefix}${topic}`)).toEqual([]); // no helper group left

    await (await transport.producer()).send([message(topic, 'a', 1)]);
    const members = await Promise.all(
      Array.from({ length: 5 }, () => open(consumerOptions([topic]))),
    );
    const groups = (await redis.xinfo('GROUPS', `${keyPrefix}${topic}`)) as unknown[][];
    expect(groups).toHaveLength(1);
    // the entry written before the racing starts is still there for the group: no start re-made the group at '$'
    const got = (await Promise.all(members.map((m) => m.fetch(10, 100)))).flat();
    expect(got.map((m) => m.headers.n)).toEqual(['1']);
    // ensureTopics leaves the data alone when the stream exists
    await transport.ensureTopics([topic]);
    expect(await redis.xlen(`${keyPrefix}${topic}`)).toBe(1);
  });

  it('refuses a key that is not a stream, naming it', async () => {
    const topic = newTopic();
    await redis.set(`${keyPrefix}${topic}`, 'a string');
    await expect(transport.ensureTopics([topic])).rejects.toThrow(
      `the Redis key "${keyPrefix}${topic}" holds string, not a stream`,
    );
    await expect(transport.consumer(consumerOptions([topic]))).rejects.toThrow(/not a stream/);
    const producer = await transport.producer();
    await expect(producer.send([message(topic, 'k', 1)])).rejects.toThrow(
      `Redis refused the write of event event-1 to stream "${keyPrefix}${topic}": WRONGTYPE`,
    );
  });

  it('shares a stream between two members of a group, each entry to one', async () => {
    const topic = newTopic();
    await (
      await transport.producer()
    ).send(Array.from({ length: 200 }, (_, n) => message(topic, `k${n}`, n)));
    const a = await open(consumerOptions([topic]));
    const b = await open(consumerOptions([topic]));
    const byMember = { a: [] as TransportMessage[], b: [] as TransportMessage[] };
    while (byMember.a.length + byMember.b.length < 200) {
      const [fromA, fromB] = await Promise.all([a.fetch(10, 200), b.fetch(10, 200)]);
      byMember.a.push(...fromA);
      byMember.b.push(...fromB);
      await Promise.all([a.ack(fromA), b.ack(fromB)]);
    }
    expect(byMember.a.length).toBeGreaterThan(0);
    expect(byMember.b.length).toBeGreaterThan(0);
    const seen = [...byMember.a, ...byMember.b].map((m) => Number(m.headers.n));
    expect(seen.sort((x, y) => x - y)).toEqual(Array.from({ length: 200 }, (_, n) => n));
    expect(await a.pending()).toBe(0);
  });

  it("takes over a departed member's unacknowledged entries after claimIdleMs, not before", async () => {
    const topic = newTopic();
    const claimIdleMs = 800;
    await (
      await transport.producer()
    ).send(Array.from({ length: 10 }, (_, n) => message(topic, 'k', n)));
    const leaver = await transport.consumer(consumerOptions([topic], { claimIdleMs }));
    const fetchedAt = Date.now(); // the entries' idle time counts from their delivery, after this
    const taken = await leaver.fetch(5, 500);
    expect(taken).toHaveLength(5);
    await leaver.close(); // never acknowledged: the entries stay pending under its name
    const consumers = (await redis.xinfo(
      'CONSUMERS',
      `${keyPrefix}${topic}`,
      'workers',
    )) as unknown[][];
    expect(consumers.map((c) => c[3])).toEqual([5]);

    const stayer = await open(consumerOptions([topic], { claimIdleMs }));
    const rest = await stayer.fetch(10, 100);
    expect(rest.map((m) => m.headers.n)).toEqual(['5', '6', '7', '8', '9']);
    expect(rest.every((m) => m.deliveryCount === 1)).toBe(true);
    await stayer.ack(rest);

    const takenOver = await fetchCount(stayer, 5, 5000);
    expect(Date.now() - fetchedAt).toBeGreaterThanOrEqual(claimIdleMs);
    expect(takenOver.map((m) => m.position)).toEqual(taken.map((m) => m.position));
    expect(takenOver.every((m) => m.deliveryCount === 2)).toBe(true);
    await stayer.ack(takenOver);
    expect(await stayer.pending()).toBe(0);
  });

  it('gives a restarted member its own pending entries at once, counting the delivery', async () => {
    const topic = newTopic();
    await (
      await transport.producer()
    ).send(Array.from({ length: 4 }, (_, n) => message(topic, 'k', n)));
    const options = consumerOptions([topic]);
    const before = await transport.consumer(options);
    const first = await before.fetch(3, 500);
    await before.close();
    const after = await open(options); // same name, claimIdleMs 30 s: no takeover involved
    const again = await after.fetch(10, 100);
    expect(again.map((m) => [m.position, m.deliveryCount])).toEqual(
      first.map((m) => [m.position, 2]),
    );
    // its own entries first, then the one never read, delivered for the first time
    const fresh = await after.fetch(10, 100);
    expect(fresh.map((m) => [m.headers.n, m.deliveryCount])).toEqual([['3', 1]]);
    // entries in hand are not handed out again by a later read of the own pending list
    expect(await after.fetch(10, 50)).toEqual([]);
    await after.ack([...again, ...fresh]);
  });

  it('leaves the group on close when it holds nothing, and stays in it when it does', async () => {
    const topic = newTopic();
    await (await transport.producer()).send([message(topic, 'k', 1), message(topic, 'k', 2)]);
    const idle = await transport.consumer(consumerOptions([topic], { consumerName: 'idle' }));
    const busy = await transport.consumer(consumerOptions([topic], { consumerName: 'busy' }));
    const got = await busy.fetch(1, 500);
    const done = await idle.fetch(1, 500);
    await idle.ack(done);
    await Promise.all([idle.close(), busy.close()]);
    const consumers = (await redis.xinfo(
      'CONSUMERS',
      `${keyPrefix}${topic}`,
      'workers',
    )) as unknown[][];
    expect(consumers.map((c) => [c[1], c[3]])).toEqual([['busy', 1]]);
    expect(got).toHaveLength(1);
  });

  it('counts lag and pending entries', async () => {
    const topic = newTopic();
    const consumer = await open(consumerOptions([topic, newTopic()]));
    expect([await consumer.lag(), await consumer.pending()]).toEqual([0, 0]);
    await (
      await transport.producer()
    ).send(Array.from({ length: 10 }, (_, n) => message(topic, 'k', n)));
    expect([await consumer.lag(), await consumer.pending()]).toEqual([10, 0]);
    const got = await consumer.fetch(4, 500);
    expect([await consumer.lag(), await consumer.pending()]).toEqual([10, 4]);
    await consumer.ack(got);
    expect([await consumer.lag(), await consumer.pending()]).toEqual([6, 0]);
  });

  it("starts a new group after the stream's last entry with startAt 'latest'", async () => {
    const topic = newTopic();
    await (await transport.producer()).send([message(topic, 'k', 1)]);
    const consumer = await open(consumerOptions([topic], { startAt: 'latest' }));
    expect(await consumer.fetch(10, 50)).toEqual([]);
    await (await transport.producer()).send([message(topic, 'k', 2)]);
    expect((await consumer.fetch(10, 1000)).map((m) => m.headers.n)).toEqual(['2']);
  });

  it('ends a blocked fetch at once on close, leaving what it had pending', async () => {
    const topic = newTopic();
    const consumer = await transport.consumer(consumerOptions([topic]));
    const reading = consumer.fetch(10, 4000);
    await new Promise((resolve) => setTimeout(resolve, 100)); // the read is blocked on the server
    const closedAt = Date.now();
    await consumer.close();
    expect(await reading).toEqual([]);
    expect(Date.now() - closedAt).toBeLessThan(1000);
    expect(await consumer.fetch(10, 100)).toEqual([]);
  });

  it('makes a lost group again and goes on reading', async () => {
    const topic = newTopic();
    const consumer = await open(consumerOptions([topic]));
    await redis.del(`${keyPrefix}${topic}`); // the stream and its group are gone
    await (await transport.producer()).send([message(topic, 'k', 7)]);
    expect(await fetchCount(consumer, 1)).toMatchObject([{ headers: { n: '7' } }]);
  });

  it('hands out no entry deleted while pending, and acknowledges it', async () => {
    const topic = newTopic();
    await (await transport.producer()).send([message(topic, 'k', 1), message(topic, 'k', 2)]);
    const options = consumerOptions([topic]);
    const before = await transport.consumer(options);
    const [gone, kept] = await before.fetch(2, 500);
    await before.close();
    await redis.xdel(`${keyPrefix}${topic}`, gone!.position);
    const after = await open(options);
    expect((await after.fetch(10, 100)).map((m) => m.position)).toEqual([kept!.position]);
    expect(await after.pending()).toBe(1);
  });

  it('trims streams to about maxLen', async () => {
    const topic = newTopic();
    const trimmed = redisStreams({ client: redis, keyPrefix, maxLen: 100 });
    const producer = await trimmed.producer();
    for (let i = 0; i < 10; i++) {
      await producer.send(Array.from({ length: 100 }, (_, n) => message(topic, 'k', n)));
    }
    const length = await redis.xlen(`${keyPrefix}${topic}`);
    expect(length).toBeGreaterThanOrEqual(100);
    expect(length).toBeLessThan(300); // approximate: whole nodes of 100 entries
    await trimmed.close();
    expect(redis.status).toBe('ready'); // the application's client is not closed
  });

  it.each([
    ['RESP2', { protocol: 2 as const }],
    ['RESP3 with map replies as objects', { protocol: 3 as const, replyMapping: 'resp3' as const }],
  ])('works on an application client speaking %s', async (_name, clientOptions) => {
    const client = new Redis(REDIS_URL, clientOptions);
    const own = redisStreams({ client, keyPrefix });
    try {
      const [topic, other] = [newTopic(), newTopic()];
      await (await own.producer()).send([message(topic, 'a', 1), message(other, 'b', 2)]);
      const options = consumerOptions([topic, other], { claimIdleMs: 100 });
      const first = await own.consumer(options);
      const got = await fetchCount(first, 2);
      expect(got.map((m) => [m.topic, m.key, m.headers.n, m.deliveryCount])).toEqual([
        [topic, 'a', '1', 1],
        [other, 'b', '2', 1],
      ]);
      expect([await first.lag(), await first.pending()]).toEqual([2, 2]);
      await first.close();
      const second = await own.consumer({ ...options, consumerName: 'other' });
      const takenOver = await fetchCount(second, 2, 5000);
      expect(takenOver.map((m) => m.deliveryCount)).toEqual([2, 2]);
      await second.ack(takenOver);
      expect([await second.lag(), await second.pending()]).toEqual([0, 0]);
      await second.close();
    } finally {
      await own.close();
      client.disconnect();
    }
  });

  it('says whether it is connected, and refuses work once closed', async () => {
    const own = redisStreams({ url: REDIS_URL, keyPrefix });
    await own.ensureTopics([newTopic()]);
    expect(own.connected()).toBe(true);
    await own.close();
    expect(own.connected()).toBe(false);
    await expect(own.producer()).rejects.toThrow('transport is closed');
    await expect(own.ensureTopics(['x'])).rejects.toThrow('transport is closed');
  });
});
