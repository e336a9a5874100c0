/**
 * The NATS JetStream transport against the shared nats-server (127.0.0.1:4222): subjects
 * and streams, order, idempotent setup, the server's duplicate window, a durable shared
 * by two members and taken over after the ack wait, lag, and what it refuses.
 * The restart test is in streams-nats-restart.test.ts.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsJetStream } from '../src/streams/transports/nats/index.js';
import { streamNameFor, subjectFor } from '../src/streams/transports/nats/names.js';
import type {
  ConsumerOptions,
  OutgoingMessage,
  StreamTransport,
  TransportConsumer,
  TransportMessage,
} from '../src/streams/transport.js';
import { deleteStreams, natsAvailable, NATS_URL } from './helpers/nats-server.js';

const available = await natsAvailable();

describe('NATS names', () => {
  it('gives every topic its own stream name and every key its own subject token', () => {
    const topics = [
      'a.b',
      'a_2e_b',
      'a_b',
      'a-b',
      'a:b',
      'A.b',
      'a.b.c',
      'a'.repeat(249),
      'a'.repeat(248) + 'b',
    ];
    const names = topics.map((t) => streamNameFor(t));
    expect(new Set(names).size).toBe(topics.length);
    expect(names[0]).toBe('a_2e_b');
    expect(names.every((n) => /^[A-Za-z0-9_-]{1,240}$/.test(n))).toBe(true);
    const keys = [
      null,
      '',
      '_',
      '__',
      '_5f_',
      '_h',
      'x'.repeat(600),
      'x'.repeat(599) + 'y',
      'ä',
      'a.b',
    ];
    const tokens = keys.map((k) => subjectFor('t', k).subject);
    expect(new Set(tokens).size).toBe(keys.length);
    expect(tokens.every((subject) => /^t\.[^.*>\s]+$/.test(subject))).toBe(true);
    expect(streamNameFor('orders', 'app_')).toBe('app_orders');
  });
});

describe.runIf(available)('NATS JetStream transport', () => {
  const transports: StreamTransport[] = [];
  const streams = new Set<string>();
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let counter = 0;

  beforeAll(async () => {
    nc = await connect({ servers: NATS_URL });
    jsm = await jetstreamManager(nc);
  });
  afterAll(async () => {
    await Promise.all(transports.map((t) => t.close()));
    await nc?.close();
    await deleteStreams(streams);
  });

  /** A topic no other test or run uses; its streams are deleted after the file. */
  function topic(label: string, prefix = ''): string {
    const name = `test.nats-${label}-${process.pid}-${++counter}-${Math.random().toString(36).slice(2, 6)}`;
    streams.add(streamNameFor(name, prefix));
    return name;
  }

  function transport(options: Parameters<typeof natsJetStream>[0] = {}): StreamTransport {
    const made = natsJetStream({ servers: NATS_URL, ...options });
    transports.push(made);
    return made;
  }

  function consumerOptions(
    topics: string[],
    group: string,
    extra: Partial<ConsumerOptions> = {},
  ): ConsumerOptions {
    return {
      topics,
      group,
      consumerName: `member-${++counter}`,
      claimIdleMs: 1000,
      startAt: 'earliest',
      ...extra,
    };
  }

  function message(
    t: string,
    key: string | null,
    n: number,
    headers: Record<string, string> = {},
  ): OutgoingMessage {
    return { topic: t, key, value: JSON.stringify({ n }), headers, id: `${t}-${n}` };
  }

  /**
   * Fetches until exactly `count` messages came (or fails after 10 s): a fetch returns what
   * has come when the first message is in, which may be less than it asked for.
   */
  async function fetchAll(
    consumer: TransportConsumer,
    count: number,
    batch = 50,
  ): Promise<TransportMessage[]> {
    const got: TransportMessage[] = [];
    const deadline = Date.now() + 10_000;
    while (got.length < count) {
      if (Date.now() > deadline)
        throw new Error(`fetched ${got.length} of ${count} messages in 10 s`);
      got.push(...(await consumer.fetch(Math.min(batch, count - got.length), 500)));
    }
    return got;
  }

  it('carries value, key and headers, with the key as the subject token and the event id as Nats-Msg-Id', async () => {
    const t = topic('roundtrip');
    const nats = transport();
    await nats.ensureTopics([t]);
    const keys = [
      'customer-42',
      null,
      '',
      'with space.and.dots*>',
      '_',
      '__',
      'ünïcödé 🚀',
      'x'.repeat(2000),
    ];
    const out = keys.map((key, n) =>
      message(t, key, n, { 'Correlation-Id': `c-${n}`, 'x-lower': 'v' }),
    );
    const producer = await nats.producer();
    await producer.send(out);
    const consumer = await nats.consumer(consumerOptions([t], 'roundtrip'));
    const got = await fetchAll(consumer, keys.length);
    expect(got.map((m) => m.key)).toEqual(keys);
    expect(got.map((m) => m.value)).toEqual(out.map((m) => m.value));
    expect(got.map((m) => m.headers)).toEqual(out.map((m) => m.headers));
    expect(got.map((m) => m.position)).toEqual(keys.map((_, n) => String(n + 1)));
    expect(got.every((m) => m.topic === t && m.deliveryCount === 1)).toBe(true);
    expect(got[0]!.orderKey).toBe(`${t}.customer-42`);
    expect(got[1]!.orderKey).toBe(`${t}._`);
    // Every key is one token, and no two keys share a subject.
    expect(new Set(got.map((m) => m.orderKey)).size).toBe(keys.length);
    expect(got.every((m) => m.orderKey.split('.').length === t.split('.').length + 1)).toBe(true);
    // The server stored the event id as Nats-Msg-Id.
    const stored = await jsm.streams.getMessage(streamNameFor(t), { seq: 1 });
    expect(stored?.header.get('Nats-Msg-Id')).toBe(`${t}-0`);
    expect(stored?.subject).toBe(subjectFor(t, 'customer-42').subject);
    await consumer.ack(got);
    expect(await consumer.pending()).toBe(0);
    // Acknowledging again (a caller retrying a failed ack) is harmless.
    await consumer.ack(got.slice(0, 2));
    expect(await consumer.lag()).toBe(0);
  });

  it('returns a fetch as soon as a message comes, not at the end of its wait', async () => {
    const t = topic('prompt');
    const nats = transport();
    await nats.ensureTopics([t]);
    const consumer = await nats.consumer(consumerOptions([t], 'prompt'));
    const producer = await nats.producer();
    const started = Date.now();
    const fetched = consumer.fetch(10, 5000);
    await producer.send([message(t, 'k', 1)]);
    const got = await fetched;
    expect(got.map((m) => m.value)).toEqual([JSON.stringify({ n: 1 })]);
    expect(Date.now() - started).toBeLessThan(2500);
    // With nothing there, it waits its time and resolves empty.
    const emptyStart = Date.now();
    expect(await consumer.fetch(10, 300)).toEqual([]);
    expect(Date.now() - emptyStart).toBeGreaterThanOrEqual(290);
    await consumer.ack(got);
    // close() ends a fetch that is waiting (and its pull) at once.
    const waiting = consumer.fetch(10, 5000);
    const closing = Date.now();
    await consumer.close();
    expect(await waiting).toEqual([]);
    expect(Date.now() - closing).toBeLessThan(1000);
  });

  it("keeps each subject's order across sends and keys", async () => {
    const t = topic('order');
    const nats = transport();
    const producer = await nats.producer();
    const keys = ['a', 'b', 'c', 'd', null];
    let n = 0;
    for (let round = 0; round < 8; round++) {
      await producer.send(
        Array.from({ length: 25 }, () => message(t, keys[n % keys.length]!, n++)),
      );
    }
    const consumer = await nats.consumer(consumerOptions([t], 'order'));
    const got = await fetchAll(consumer, n, 37);
    const byKey = new Map<string, number[]>();
    for (const m of got) {
      const list = byKey.get(m.orderKey) ?? [];
      list.push((JSON.parse(m.value) as { n: number }).n);
      byKey.set(m.orderKey, list);
    }
    expect(byKey.size).toBe(keys.length);
    for (const list of byKey.values()) {
      expect(list).toEqual([...list].sort((x, y) => x - y));
      expect(list).toHaveLength(n / keys.length);
    }
    await consumer.ack(got);
  });

  it('creates a stream once under racing ensureTopics, and a topic with dots beside its prefix topic', async () => {
    const t = topic('race');
    const deadLetter = `${t}.dead-letter`;
    streams.add(streamNameFor(deadLetter));
    const racers = Array.from({ length: 6 }, () => transport());
    await Promise.all(racers.map((r) => r.ensureTopics([t, deadLetter])));
    const info = await jsm.streams.info(streamNameFor(t));
    expect(info.config.subjects).toEqual([`${t}.*`]);
    expect((await jsm.streams.info(streamNameFor(deadLetter))).config.subjects).toEqual([
      `${deadLetter}.*`,
    ]);
    // A message keyed 'dead-letter' stays in the topic; the dead-letter topic's stay in theirs.
    const producer = await racers[0]!.producer();
    await producer.send([message(t, 'dead-letter', 1), message(deadLetter, 'k', 2)]);
    expect((await jsm.streams.info(streamNameFor(t))).state.messages).toBe(1);
    expect((await jsm.streams.info(streamNameFor(deadLetter))).state.messages).toBe(1);
    // A transport with another duplicate window brings the stream to it.
    await transport({ duplicateWindowMs: 30_000 }).ensureTopics([t]);
    expect((await jsm.streams.info(streamNameFor(t))).config.duplicate_window).toBe(30_000 * 1e6);
    // Racing members of one group make one durable consumer.
    const members = await Promise.all(
      racers.map((r) => r.consumer(consumerOptions([t], 'race group'))),
    );
    const names: string[] = [];
    for await (const c of jsm.consumers.list(streamNameFor(t))) names.push(c.name);
    expect(names).toEqual(['race_20_group']);
    // A member started with another ack wait (and start) brings the ack wait, not the position.
    members.push(
      await transport().consumer(
        consumerOptions([t], 'race group', { claimIdleMs: 7000, startAt: 'latest' }),
      ),
    );
    const config = (await jsm.consumers.info(streamNameFor(t), 'race_20_group')).config;
    expect(config.ack_wait).toBe(7000 * 1e6);
    expect(config.deliver_policy).toBe('all');
    await Promise.all(members.map((m) => m.close()));
  });

  it('lets the server drop a second publish of an event id within the duplicate window', async () => {
    const t = topic('dup');
    const nats = transport();
    const producer = await nats.producer();
    await producer.send([message(t, 'k', 1), message(t, 'k', 2)]);
    await producer.send([message(t, 'k', 1), { ...message(t, 'other-key', 1), value: 'changed' }]);
    expect((await jsm.streams.info(streamNameFor(t))).state.messages).toBe(2);
    const consumer = await nats.consumer(consumerOptions([t], 'dup'));
    const got = await fetchAll(consumer, 2);
    expect(got.map((m) => m.value)).toEqual([JSON.stringify({ n: 1 }), JSON.stringify({ n: 2 })]);
    await consumer.ack(got);
    expect(await consumer.fetch(10, 200)).toEqual([]);
  });

  it('shares a durable between two members, and hands an unacknowledged one to the other after the ack wait', async () => {
    const t = topic('share');
    const nats = transport();
    const producer = await nats.producer();
    await producer.send(Array.from({ length: 60 }, (_, n) => message(t, `k${n % 6}`, n)));
    const first = await nats.consumer(consumerOptions([t], 'share'));
    const second = await transport().consumer(consumerOptions([t], 'share'));
    const a = await fetchAll(first, 10);
    const b = await fetchAll(second, 10);
    expect(a).toHaveLength(10);
    expect(b).toHaveLength(10);
    const positions = [...a, ...b].map((m) => m.position);
    expect(new Set(positions).size).toBe(20); // none handed to both
    await second.ack(b);
    // The first member leaves without acknowledging: its ten come to the second member
    // once the ack wait (claimIdleMs, 1 s) has passed, not before.
    const left = Date.now();
    await first.close();
    const rest = await fetchAll(second, 40);
    await second.ack(rest);
    const retaken = await fetchAll(second, 10);
    expect(Date.now() - left).toBeGreaterThanOrEqual(900);
    expect(retaken.map((m) => m.position).sort()).toEqual(a.map((m) => m.position).sort());
    expect(retaken.every((m) => m.deliveryCount === 2)).toBe(true);
    await second.ack(retaken);
    expect(await second.lag()).toBe(0);
    // The closed member fetches nothing more.
    expect(await first.fetch(10, 100)).toEqual([]);
  });

  it('counts lag (not yet done) and pending (handed out, not acknowledged) over its topics', async () => {
    const [t1, t2] = [topic('lag'), topic('lag')];
    const nats = transport();
    const producer = await nats.producer();
    await producer.send([
      ...Array.from({ length: 7 }, (_, n) => message(t1, 'k', n)),
      ...Array.from({ length: 3 }, (_, n) => message(t2, null, n)),
    ]);
    const single = await nats.consumer(consumerOptions([t1], 'lag-one'));
    expect(await single.lag()).toBe(7);
    expect(await single.pending()).toBe(0);
    const first = await fetchAll(single, 4);
    expect(await single.lag()).toBe(7);
    expect(await single.pending()).toBe(4);
    await single.ack(first);
    expect(await single.lag()).toBe(3);
    expect(await single.pending()).toBe(0);
    await single.ack(await fetchAll(single, 3));
    expect(await single.lag()).toBe(0);
    // Over two topics: summed, and each topic has its turn.
    const both = await nats.consumer(consumerOptions([t1, t2], 'lag-both'));
    expect(await both.lag()).toBe(10);
    const all = await fetchAll(both, 10, 4);
    expect(new Set(all.map((m) => m.topic))).toEqual(new Set([t1, t2]));
    expect(await both.pending()).toBe(10);
    await both.ack(all);
    expect(await both.lag()).toBe(0);
    // A group that starts at 'latest' skips what was written before it.
    const late = await nats.consumer(consumerOptions([t1], 'lag-latest', { startAt: 'latest' }));
    expect(await late.lag()).toBe(0);
    await producer.send([message(t1, 'k', 99)]);
    const fresh = await late.fetch(10, 2000);
    expect(fresh.map((m) => m.value)).toEqual([JSON.stringify({ n: 99 })]);
    await late.ack(fresh);
  });

  it('does not let a quiet topic hold back a busy one', async () => {
    const [quiet, busy] = [topic('quiet'), topic('busy')];
    const nats = transport();
    await nats.ensureTopics([quiet]);
    const producer = await nats.producer();
    await producer.send(Array.from({ length: 30 }, (_, n) => message(busy, `k${n % 3}`, n)));
    const consumer = await nats.consumer(consumerOptions([quiet, busy], 'quiet-busy'));
    const started = Date.now();
    // Small fetches: the quiet topic's pull stays open (5 s) the whole time.
    const got = await fetchAll(consumer, 30, 2);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(new Set(got.map((m) => m.topic))).toEqual(new Set([busy]));
    await consumer.ack(got);
  });

  it('refuses bad options with the option named, and never shows a password', async () => {
    expect(() => natsJetStream({ server: 'x' } as never)).toThrow(/Unrecognized key.*server/);
    expect(() => natsJetStream({ servers: [] })).toThrow(/servers: give at least one server/);
    expect(() => natsJetStream({ servers: 'nats://a b' })).toThrow(
      /servers: a server must not hold whitespace/,
    );
    expect(() => natsJetStream({ streamPrefix: 'a.b' })).toThrow(/streamPrefix may hold only/);
    expect(() => natsJetStream({ replicas: 0 })).toThrow(/replicas/);
    expect(() => natsJetStream({ duplicateWindowMs: 1.5 })).toThrow(
      /duplicateWindowMs must be a whole number/,
    );
    expect(() => natsJetStream({ connection: {} as never })).toThrow(
      /connection must be a NatsConnection/,
    );
    expect(() => natsJetStream({ servers: NATS_URL, connection: nc })).toThrow(
      /servers or connection, not both/,
    );
    const unreachable = natsJetStream({ servers: 'nats://someone:s3cret-pass@127.0.0.1:1' });
    const error = await unreachable.ensureTopics(['t']).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(error?.message).toMatch(
      /could not connect to NATS at nats:\/\/someone:\*\*\*@127\.0\.0\.1:1/,
    );
    expect(String(error?.message) + String(error?.stack)).not.toContain('s3cret');
  });

  it('refuses topics NATS cannot carry, and headers it cannot carry, before writing anything', async () => {
    const nats = transport();
    for (const bad of ['', 'a..b', '.a', 'a.', 'a b', 'a.*', 'a.>', '$JS.API', 'tab\there']) {
      await expect(nats.ensureTopics([bad]), bad).rejects.toThrow(/NATS topic|non-empty/);
    }
    const t = topic('refuse');
    const producer = await nats.producer();
    await expect(
      producer.send([message(t, 'k', 1, { 'Nats-Expected-Stream': 'x' })]),
    ).rejects.toThrow(/header name "Nats-Expected-Stream" cannot go on NATS/);
    await expect(producer.send([message(t, 'k', 1, { 'bad name': 'x' })])).rejects.toThrow(
      /header name/,
    );
    await expect(producer.send([message(t, 'k', 1, { ok: 'two\nlines' })])).rejects.toThrow(
      /line break/,
    );
    await expect(producer.send([message('a..b', 'k', 1)])).rejects.toThrow(/empty token/);
    await expect(nats.consumer(consumerOptions([], 'g'))).rejects.toThrow(/at least one topic/);
  });

  it('uses a connection the application made, and leaves it open on close', async () => {
    const t = topic('own', 'app_');
    const nats = natsJetStream({ connection: nc, streamPrefix: 'app_' });
    await nats.ensureTopics([t]);
    expect(nats.connected()).toBe(true);
    expect((await jsm.streams.info(`app_${streamNameFor(t)}`)).config.name).toBe(
      streamNameFor(t, 'app_'),
    );
    await nats.close();
    expect(nats.connected()).toBe(false);
    expect(nc.isClosed()).toBe(false);
    await expect(nats.producer()).rejects.toThrow(/transport is closed/);
  });
});
