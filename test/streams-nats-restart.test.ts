/**
 * The NATS JetStream transport across restarts of a private nats-server (same port, same
 * store directory): stopped with SIGTERM, then killed with kill -9. One transport, one
 * consumer and one producer ride through both; nothing written is lost, and what was
 * handed out and not acknowledged comes again.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { natsJetStream } from '../src/streams/transports/nats/index.js';
import type {
  OutgoingMessage,
  StreamTransport,
  TransportConsumer,
  TransportProducer,
} from '../src/streams/transport.js';
import { waitUntil } from './fixtures/wait-until.js';
import { natsServerInstalled, PrivateNats } from './helpers/nats-server.js';

const installed = await natsServerInstalled();
if (!installed) {
  if (process.env.CI)
    throw new Error('nats-server is not installed, and CI needs it for the restart test');
  console.warn('\n*** nats-server is not installed: the NATS restart test did NOT run ***\n');
}

describe.runIf(installed)('NATS JetStream transport across server restarts', () => {
  let server: PrivateNats | undefined;
  let nats: StreamTransport | undefined;
  afterAll(async () => {
    await nats?.close();
    await server?.destroy();
  });

  const topic = 'orders.restart';
  let next = 0;
  const batch = (count: number): OutgoingMessage[] =>
    Array.from({ length: count }, () => {
      const n = next++;
      return { topic, key: `k${n % 4}`, value: String(n), headers: {}, id: `event-${n}` };
    });

  /** Sends, trying again while the server is still coming back (same ids: no duplicates). */
  async function sendThrough(
    producer: TransportProducer,
    messages: OutgoingMessage[],
  ): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await producer.send(messages);
        return;
      } catch (error) {
        if (attempt >= 40) throw error;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
  }

  /**
   * Fetches (riding out rejections while the server is away) until `until` holds, counting
   * how many times each message was handed out in `seen`.
   */
  async function fetchUntil(
    consumer: TransportConsumer,
    seen: Map<string, number>,
    until: () => boolean | Promise<boolean>,
  ): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (!(await until())) {
      if (Date.now() > deadline) throw new Error(`only ${seen.size} messages seen after 30 s`);
      try {
        const got = await consumer.fetch(25, 300);
        for (const m of got) seen.set(m.value, (seen.get(m.value) ?? 0) + 1);
        if (got.length > 0) await consumer.ack(got);
      } catch {
        // the server is away: the next fetch works again once it is back
      }
    }
  }

  it('keeps fetching and producing with the same transport, and loses nothing', async () => {
    server = await PrivateNats.create();
    nats = natsJetStream({ servers: server.url });
    await nats.ensureTopics([topic]);
    const producer = await nats.producer();
    const consumer = await nats.consumer({
      topics: [topic],
      group: 'restart',
      consumerName: 'only',
      claimIdleMs: 1000,
      startAt: 'earliest',
    });
    const seen = new Map<string, number>();

    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      await sendThrough(producer, batch(20));
      const done = await consumer.fetch(10, 1000);
      for (const m of done) seen.set(m.value, (seen.get(m.value) ?? 0) + 1);
      // Handed out and not acknowledged when the server goes: these must come again.
      // (A fetch returns what has come, which may be less than it asked for.)
      const held = await consumer.fetch(5, 1000);
      expect(held.length).toBeGreaterThan(0);
      for (const m of held) seen.set(m.value, (seen.get(m.value) ?? 0) + 1);
      await server.stop(signal);
      await waitUntil(() => !nats!.connected(), 10_000, 'the transport saw the server go');
      // While it is away, a fetch resolves empty or rejects; it does not hang.
      const during = await consumer.fetch(5, 300).then(
        (got) => got.length,
        () => -1,
      );
      expect(during).toBeLessThanOrEqual(0);
      // An ack sent now waits for the server or fails; one tried again once it is back works.
      const ackDuring = consumer.ack(done).then(
        () => 'acknowledged',
        () => 'failed',
      );
      await server.start();
      await waitUntil(() => nats!.connected(), 15_000, 'the transport reconnected');
      if ((await ackDuring) === 'failed') await consumer.ack(done);
      await sendThrough(producer, batch(20));
      // The held messages come again (fetchUntil fails after 30 s if they do not).
      const before = new Map(held.map((m) => [m.value, seen.get(m.value)!]));
      await fetchUntil(consumer, seen, () =>
        held.every((m) => seen.get(m.value)! > before.get(m.value)!),
      );
      await fetchUntil(consumer, seen, () => seen.size >= next);
    }
    // Every message written, before, between and after the restarts, was handed out.
    const missing = Array.from({ length: next }, (_, n) => String(n)).filter((n) => !seen.has(n));
    expect(missing).toEqual([]);
    expect(next).toBe(80);
    // Acknowledgements the killed server had not stored bring their messages again: done
    // once more, the group has nothing left.
    await fetchUntil(consumer, seen, async () => (await consumer.lag()) === 0);
    expect(await consumer.pending()).toBe(0);
    await consumer.close();
  });
});
