/**
 * The Kafka transport on node-rdkafka against librdkafka's mock cluster (kcat), not a real
 * broker: see test/helpers/kafka-mock.ts. Each test starts its own cluster.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import {
  kafkaTransport,
  type KafkaStreamConsumer,
  type KafkaTransport,
} from '../src/streams/transports/kafka/index.js';
import type {
  ConsumerOptions,
  OutgoingMessage,
  TransportMessage,
} from '../src/streams/transport.js';
import { waitUntil } from './fixtures/wait-until.js';
import { requireKcat, startKafkaMock, type KafkaMockCluster } from './helpers/kafka-mock.js';

const available = requireKcat();
const cleanups: (() => Promise<void>)[] = [];

/**
 * The mock does not answer CreateTopics: a short admin timeout keeps the fallback to
 * auto-creation quick. The mock waits session.timeout.ms - 1 s for members to rejoin on a
 * rebalance (and 3 s on a group's first join), so a short session keeps rebalances at ~3 s.
 */
const MOCK_TUNING = {
  adminTimeoutMs: 1000,
  rdkafka: { 'session.timeout.ms': 4000, 'heartbeat.interval.ms': 500 },
};

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function cluster(): Promise<{ mock: KafkaMockCluster; transport: KafkaTransport }> {
  const mock = await startKafkaMock();
  cleanups.push(() => mock.stop());
  const transport = kafkaTransport({ brokers: mock.brokers, ...MOCK_TUNING });
  cleanups.push(() => transport.close());
  return { mock, transport };
}

function member(group: string, name: string, topics: string[]): ConsumerOptions {
  return { topics, group, consumerName: name, claimIdleMs: 30_000, startAt: 'earliest' };
}

function message(topic: string, key: string | null, value: string): OutgoingMessage {
  return { topic, key, value, headers: { 'content-type': 'application/json' }, id: randomUUID() };
}

/** Fetches until `count` messages came (or fails after timeoutMs). */
async function take(
  consumer: KafkaStreamConsumer,
  count: number,
  timeoutMs = 20_000,
): Promise<TransportMessage[]> {
  const got: TransportMessage[] = [];
  const deadline = Date.now() + timeoutMs;
  while (got.length < count) {
    if (Date.now() > deadline)
      throw new Error(`got ${got.length} of ${count} messages in ${timeoutMs} ms`);
    got.push(...(await consumer.fetch(count - got.length, 200)));
  }
  return got;
}

/** Keeps both members polling (rebalances are served by their reads) until `until` holds. */
async function pollBoth(
  members: KafkaStreamConsumer[],
  until: () => boolean,
  what: string,
  into: TransportMessage[][] = members.map(() => []),
): Promise<TransportMessage[][]> {
  const deadline = Date.now() + 30_000;
  while (!until()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    const batches = await Promise.all(members.map((consumer) => consumer.fetch(100, 100)));
    batches.forEach((batch, index) => into[index]?.push(...batch));
  }
  return into;
}

const offsetOf = (m: TransportMessage) => Number(m.position.split(':')[1]);

describe('Kafka transport on the librdkafka mock cluster', () => {
  it.runIf(available)(
    'round trip: value, key, headers with event-id, position and order key',
    async () => {
      const { transport } = await cluster();
      await transport.ensureTopics(['orders']);
      const producer = await transport.producer();
      const sent = [message('orders', 'customer-1', '{"n":1}'), message('orders', null, '{"n":2}')];
      sent[0]!.headers['trace'] = 'abc';
      await producer.send(sent);
      const consumer = (await transport.consumer(
        member('g', 'a', ['orders']),
      )) as KafkaStreamConsumer;
      const got = await take(consumer, 2);
      const byValue = new Map(got.map((m) => [m.value, m]));
      const first = byValue.get('{"n":1}');
      expect(first).toMatchObject({
        topic: 'orders',
        key: 'customer-1',
        headers: { 'content-type': 'application/json', trace: 'abc', 'event-id': sent[0]!.id },
        deliveryCount: 1,
      });
      expect(first?.position).toMatch(/^\d+:\d+$/);
      expect(first?.orderKey).toBe(`orders:${first?.position.split(':')[0]}`);
      expect(byValue.get('{"n":2}')).toMatchObject({
        key: null,
        headers: { 'event-id': sent[1]!.id },
      });
      expect(await consumer.pending()).toBe(2);
      await consumer.ack(got);
      expect(await consumer.pending()).toBe(0);
      expect(transport.connected()).toBe(true);
      await producer.close();
      await consumer.close();
    },
  );

  it.runIf(available)("keeps each key's order, all of a key in one partition", async () => {
    const { transport } = await cluster();
    await transport.ensureTopics(['ordered']);
    const producer = await transport.producer();
    const keys = ['a', 'b', 'c', 'd', 'e'];
    // Several sends, each interleaving the keys, one not awaited before the next starts.
    const sends: Promise<void>[] = [];
    for (let round = 0; round < 4; round++) {
      const batch = [];
      for (let i = 0; i < 15; i++) {
        const key = keys[i % keys.length]!;
        batch.push(
          message(
            'ordered',
            key,
            JSON.stringify({ key, seq: round * 3 + Math.floor(i / keys.length) }),
          ),
        );
      }
      sends.push(producer.send(batch));
      if (round % 2 === 1) await Promise.all(sends);
    }
    await Promise.all(sends);
    const consumer = (await transport.consumer(
      member('g', 'a', ['ordered']),
    )) as KafkaStreamConsumer;
    const got = await take(consumer, 60);
    for (const key of keys) {
      const ofKey = got.filter((m) => m.key === key);
      expect(ofKey.map((m) => (JSON.parse(m.value) as { seq: number }).seq)).toEqual([
        ...Array(12).keys(),
      ]);
      expect(new Set(ofKey.map((m) => m.orderKey)).size).toBe(1);
    }
    await consumer.close();
    await producer.close();
  });

  it.runIf(available)(
    'ensureTopics is idempotent, also when calls race, and checks names',
    async () => {
      const { mock, transport } = await cluster();
      await transport.ensureTopics(['made-once']);
      await Promise.all([
        transport.ensureTopics(['made-once', 'raced']),
        transport.ensureTopics(['raced']),
      ]);
      // A second transport (a restarted service) finds them and creates nothing.
      const again = kafkaTransport({ brokers: mock.brokers, ...MOCK_TUNING });
      cleanups.push(() => again.close());
      const started = Date.now();
      await again.ensureTopics(['made-once', 'raced']);
      expect(Date.now() - started).toBeLessThan(1000); // no CreateTopics wait: they exist
      const producer = await again.producer();
      await producer.send([message('raced', 'k', 'v')]);
      const consumer = (await again.consumer(member('g', 'a', ['raced']))) as KafkaStreamConsumer;
      expect((await take(consumer, 1))[0]?.value).toBe('v');
      await consumer.close();
      await producer.close();
      await expect(transport.ensureTopics(['bad topic'])).rejects.toThrow(
        /not a valid Kafka topic name/,
      );
    },
  );

  it.runIf(available)('commits only up to the first message not done in a partition', async () => {
    const { transport } = await cluster();
    await transport.ensureTopics(['contiguous']);
    const producer = await transport.producer();
    // One key: one partition, offsets 0..3.
    await producer.send(['m0', 'm1', 'm2', 'm3'].map((v) => message('contiguous', 'same-key', v)));
    const first = (await transport.consumer(
      member('g', 'first', ['contiguous']),
    )) as KafkaStreamConsumer;
    const read = await take(first, 4);
    expect(read.map(offsetOf)).toEqual([0, 1, 2, 3]);
    await first.ack([read[1]!, read[2]!]); // offsets 1 and 2 done, 0 not
    expect(await first.pending()).toBe(2);
    await first.close();

    const second = (await transport.consumer(
      member('g', 'second', ['contiguous']),
    )) as KafkaStreamConsumer;
    const reread = await take(second, 4);
    expect(reread.map((m) => m.value)).toEqual(['m0', 'm1', 'm2', 'm3']); // nothing was committed
    await second.ack([reread[1]!, reread[2]!]);
    await second.ack([reread[0]!]); // now 0..2 are done: the commit moves to 3
    await second.close();

    const third = (await transport.consumer(
      member('g', 'third', ['contiguous']),
    )) as KafkaStreamConsumer;
    const rest = await take(third, 1);
    expect(rest.map((m) => m.value)).toEqual(['m3']);
    expect(await third.fetch(10, 300)).toEqual([]);
    await third.close();
    await producer.close();
  });

  it.runIf(available)(
    'two members of a group split the partitions; one leaves, the other takes its unacked messages',
    async () => {
      const { transport } = await cluster();
      await transport.ensureTopics(['shared']);
      const a = (await transport.consumer(member('g', 'a', ['shared']))) as KafkaStreamConsumer;
      await pollBoth([a], () => a.assignment().length > 0, 'the first member has partitions');
      const b = (await transport.consumer(member('g', 'b', ['shared']))) as KafkaStreamConsumer;
      await pollBoth(
        [a, b],
        () => a.assignment().length > 0 && b.assignment().length > 0,
        'both members have partitions',
      );
      const partitionsOf = (c: KafkaStreamConsumer) => c.assignment().map((p) => p.partition);
      expect(new Set([...partitionsOf(a), ...partitionsOf(b)]).size).toBe(
        partitionsOf(a).length + partitionsOf(b).length,
      );

      const producer = await transport.producer();
      await producer.send(
        Array.from({ length: 40 }, (_, i) => message('shared', `key-${i % 8}`, `v${i}`)),
      );
      const collected: TransportMessage[][] = [[], []];
      await pollBoth(
        [a, b],
        () => collected.flat().length >= 40,
        'all 40 messages are read',
        collected,
      );
      const [ofA = [], ofB = []] = collected;
      expect(ofA.length).toBeGreaterThan(0);
      expect(ofB.length).toBeGreaterThan(0);
      expect(new Set([...ofA, ...ofB].map((m) => m.value)).size).toBe(40);

      // b finishes half of its messages and leaves; a gets b's partitions and the other half.
      const doneByB = ofB.filter((_, i) => i % 2 === 0);
      const leftByB = ofB.filter((_, i) => i % 2 === 1);
      await a.ack(ofA);
      await b.ack(doneByB);
      const bPartitions = partitionsOf(b);
      await b.close();
      const taken: TransportMessage[] = [];
      await pollBoth(
        [a],
        () => a.assignment().length === 4 && taken.length >= leftByB.length,
        "a has b's partitions and messages",
        [taken],
      );
      expect(partitionsOf(a)).toEqual(expect.arrayContaining(bPartitions));
      // Everything b left is redelivered; what b finished is not unless it lies after a message b left.
      const takenValues = new Set(taken.map((m) => m.value));
      for (const m of leftByB) expect(takenValues.has(m.value)).toBe(true);
      for (const m of taken) expect(ofA.map((x) => x.value)).not.toContain(m.value);
      await a.close();
      await producer.close();
    },
  );

  it.runIf(available)('lag and pending count what the group has not finished', async () => {
    const { transport } = await cluster();
    await transport.ensureTopics(['lagging']);
    const producer = await transport.producer();
    await producer.send(
      Array.from({ length: 10 }, (_, i) => message('lagging', 'one-key', `v${i}`)),
    );
    const consumer = (await transport.consumer(
      member('g', 'a', ['lagging']),
    )) as KafkaStreamConsumer;
    const read = await take(consumer, 10);
    expect(await consumer.lag()).toBe(10);
    expect(await consumer.pending()).toBe(10);
    await consumer.ack(read.slice(0, 4));
    await waitUntil(
      async () => (await consumer.lag()) === 6,
      5000,
      'the commit of 4 shows in the lag',
    );
    expect(await consumer.pending()).toBe(6);
    await consumer.ack(read.slice(6)); // not contiguous: the commit stays at 4
    expect(await consumer.pending()).toBe(2);
    await producer.send([message('lagging', 'one-key', 'v10')]);
    await waitUntil(
      async () => (await consumer.lag()) === 7,
      5000,
      'a new message adds to the lag',
    );
    await consumer.close();
    await producer.close();
  });
});
