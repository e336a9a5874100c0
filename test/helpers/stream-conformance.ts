/**
 * The stream transport conformance suite: what Redis Streams, NATS JetStream and Kafka
 * must all do under a stream service (the reliability layer above the transport). Run it
 * from a test file of each transport:
 *
 *     streamConformance('redis', {
 *       spec: () => ({ kind: 'redis', options: { url: REDIS_URL, keyPrefix } }),
 *       restartable: async () => ({ spec, restart, stop }),   // omit where not possible
 *     });
 *
 * `spec()` says how to make a transport (also in a child process, for the kill -9 test).
 * Every test uses topics and groups of its own. Effects and call counts are kept in the
 * test Redis (database 5) under a prefix of the test's own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { PermanentError } from '../../src/core/errors.js';
import {
  redisDedup,
  StreamMetrics,
  streamService,
  type StreamHandler,
  type StreamService,
} from '../../src/streams/index.js';
import { waitUntil } from '../fixtures/wait-until.js';
import { deletePrefix, REDIS_URL, uniquePrefix } from './redis.js';
import { makeTransport, type TransportSpec } from './stream-transports.js';

export interface RestartableServer {
  spec: TransportSpec;
  /** Stops the server and starts it again on the same address, keeping its data. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface ConformanceTarget {
  spec(): TransportSpec | Promise<TransportSpec>;
  /**
   * A private server the test may restart; omitted where none can be, and then the restart
   * test is not declared (say why in `noRestart`).
   */
  restartable?: () => Promise<RestartableServer>;
  noRestart?: string;
}

const quiet = pino({ level: 'silent' });

export function streamConformance(name: string, target: ConformanceTarget): void {
  const prefix = uniquePrefix(`streams-${name}`);
  const redis = new Redis(REDIS_URL);
  const services: StreamService[] = [];
  let counter = 0;
  const unique = (label: string) =>
    `conf-${name}-${label}-${process.pid}-${++counter}-${Math.random().toString(36).slice(2, 6)}`;

  afterAll(async () => {
    await Promise.all(services.map((s) => s.stop({ graceMs: 500 }).catch(() => undefined)));
    await deletePrefix(prefix);
    redis.disconnect();
  });

  async function producer(spec?: TransportSpec): Promise<StreamService> {
    const service = streamService({
      name: `${name}-producer`,
      transport: await makeTransport(spec ?? (await target.spec())),
      logger: quiet,
    })
      .produce()
      .build();
    await service.start();
    services.push(service);
    return service;
  }

  async function consumer(
    topic: string,
    group: string,
    handler: StreamHandler,
    extra: {
      spec?: TransportSpec;
      metrics?: StreamMetrics;
      concurrency?: number;
      batchSize?: number;
      consumerName?: string;
      dedup?: boolean;
    } = {},
  ): Promise<StreamService> {
    let builder = streamService({
      name: `${name}-consumer`,
      transport: await makeTransport(extra.spec ?? (await target.spec())),
      logger: quiet,
    })
      .withErrorHandling({
        retry: {
          maxAttempts: 3,
          backoff: { type: 'exponential', base: '20ms', max: '100ms', jitter: false },
        },
      })
      .produce();
    if (extra.dedup !== false)
      builder = builder.withDedup(redisDedup(redis, { prefix: `${prefix}:dedup:` }));
    if (extra.metrics) builder = builder.withMetrics(extra.metrics);
    const service = builder
      .consume({
        topics: [topic],
        group,
        handler,
        claimIdle: 1000,
        pollWait: 200,
        concurrency: extra.concurrency ?? 8,
        batchSize: extra.batchSize ?? 50,
        consumerName: extra.consumerName,
      })
      .build();
    await service.start();
    services.push(service);
    return service;
  }

  async function stop(service: StreamService, graceMs = 2000): Promise<void> {
    await service.stop({ graceMs });
  }

  describe(`stream transport conformance: ${name}`, () => {
    it('delivers at least once across a consumer killed with kill -9, and the effects are deduplicated', async () => {
      const topic = unique('crash');
      const group = unique('g');
      const keys = `${prefix}:${topic}`;
      const spec = await target.spec();
      const out = await producer(spec);
      const total = 400;
      for (let i = 0; i < total; i += 50) {
        await Promise.all(
          Array.from({ length: 50 }, (_, j) =>
            out.producer.publish(topic, `k${(i + j) % 10}`, { n: i + j }),
          ),
        );
      }
      const childSpec = {
        transport: spec,
        topic,
        group,
        redisUrl: REDIS_URL,
        prefix: keys,
        handlerDelayMs: 5,
      };
      const first = startChild(childSpec);
      await waitUntil(
        async () => Number(await redis.scard(`${keys}:effects`)) >= 100,
        30_000,
        'the first consumer handled 100',
      );
      first.kill('SIGKILL');
      await once(first, 'exit');
      const handledAtKill = Number(await redis.scard(`${keys}:effects`));
      expect(handledAtKill).toBeLessThan(total);
      const second = startChild({ ...childSpec, handlerDelayMs: 0 });
      try {
        await waitUntil(
          async () => Number(await redis.scard(`${keys}:effects`)) === total,
          45_000,
          `all ${total} events handled after the kill`,
        );
      } finally {
        second.kill('SIGTERM');
        await once(second, 'exit');
      }
      const calls = Number(await redis.get(`${keys}:calls`));
      // Every event's effect happened; calls beyond one per event are the handlers that
      // ran but were not yet remembered and acknowledged when the first process died.
      expect(calls).toBeGreaterThanOrEqual(total);
      expect(calls - total).toBeLessThanOrEqual(100);
      console.info(
        `[${name}] kill -9: ${total} events, ${handledAtKill} handled before the kill, ${calls} handler calls (${calls - total} repeated)`,
      );
    });

    it('acknowledges only after the handler succeeded; a poison message is retried, dead-lettered with its error, and does not block the stream', async () => {
      const topic = unique('poison');
      const group = unique('g');
      const out = await producer();
      const calls = new Map<number, number>();
      const handled: number[] = [];
      const metrics = new StreamMetrics();
      const service = await consumer(
        topic,
        group,
        (data) => {
          const n = (data as { n: number }).n;
          calls.set(n, (calls.get(n) ?? 0) + 1);
          if (n === 3) throw new Error(`order 3 is broken: card 4242 declined`);
          if (n === 5 && calls.get(n)! < 2) throw new Error('flaky once');
          handled.push(n);
        },
        { metrics },
      );
      const dlq: { data: unknown; headers: Record<string, string>; id: string }[] = [];
      const dlqConsumer = await consumer(`${topic}.dead-letter`, unique('dlq'), (data, ctx) => {
        dlq.push({ data, headers: ctx.event.headers, id: ctx.event.id });
      });
      const ids: string[] = [];
      for (let n = 1; n <= 10; n++) ids.push(await out.producer.publish(topic, 'same-key', { n }));
      await waitUntil(
        () => handled.length === 9 && dlq.length === 1,
        20_000,
        '9 handled and 1 dead-lettered',
      );
      expect(handled).toEqual([1, 2, 4, 5, 6, 7, 8, 9, 10]);
      expect(calls.get(3)).toBe(3);
      expect(calls.get(5)).toBe(2);
      expect(dlq[0]!.id).toBe(ids[2]);
      expect(dlq[0]!.data).toEqual({ n: 3 });
      expect(dlq[0]!.headers['dead-letter-topic']).toBe(topic);
      expect(dlq[0]!.headers['dead-letter-attempts']).toBe('3');
      expect(dlq[0]!.headers['dead-letter-error-message']).toContain('order 3 is broken');
      const text = await metrics.text();
      expect(text).toMatch(/dispatchbox_stream_messages_dead_lettered_total\{[^}]*\} 1/);
      expect(text).toMatch(/dispatchbox_stream_messages_retried_total\{[^}]*\} 3/);
      await stop(service);
      await stop(dlqConsumer);

      // Shutdown acknowledges what was handled and nothing more: the message whose handler
      // never finished comes again, the handled ones do not.
      const topic2 = unique('unacked');
      const handledFirst: number[] = [];
      let started = 0;
      const stuck = await consumer(topic2, group, async (data, ctx) => {
        const n = (data as { n: number }).n;
        if (n !== 2) return void handledFirst.push(n);
        started += 1;
        await new Promise((_, reject) =>
          ctx.signal.addEventListener('abort', () => reject(new Error('shutdown ran out of time'))),
        );
      });
      for (const n of [1, 2, 3]) await out.producer.publish(topic2, `k${n}`, { n });
      await waitUntil(
        () => started === 1 && handledFirst.length === 2,
        10_000,
        'two handled, one stuck',
      );
      await stop(stuck, 100);
      const again: number[] = [];
      const second = await consumer(
        topic2,
        group,
        (data) => void again.push((data as { n: number }).n),
      );
      await waitUntil(
        () => again.length === 1,
        15_000,
        'the unacknowledged message delivered again',
      );
      await out.producer.publish(topic2, 'k4', { n: 4 });
      await waitUntil(() => again.length === 2, 15_000, 'the next message');
      expect(again).toEqual([2, 4]);
      await stop(second);
    });

    it('a permanent error and a message that is not an envelope go to the dead-letter topic at once', async () => {
      const topic = unique('permanent');
      const out = await producer();
      let calls = 0;
      const service = await consumer(topic, unique('g'), () => {
        calls += 1;
        throw new PermanentError('never valid');
      });
      const dlq: string[] = [];
      const dlqConsumer = await consumer(
        `${topic}.dead-letter`,
        unique('dlq'),
        (_d, ctx) => void dlq.push(ctx.event.type),
      );
      await out.producer.publish(topic, 'k', { n: 1 }, { type: 'order.placed' });
      await waitUntil(() => dlq.length === 1, 15_000, 'the permanent failure dead-lettered');
      expect(calls).toBe(1);
      expect(dlq).toEqual(['order.placed']);
      await stop(service);
      await stop(dlqConsumer);
    });

    it('two consumers in one group share the stream; when one leaves, the other takes over its unacknowledged messages', async () => {
      const topic = unique('share');
      const group = unique('g');
      const out = await producer();
      const byMember = { a: new Set<string>(), b: new Set<string>() };
      let blockA = false;
      let blockedInA = 0;
      const handler =
        (member: 'a' | 'b'): StreamHandler =>
        async (_data, ctx) => {
          if (member === 'a' && blockA) {
            blockedInA += 1;
            await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
            throw new Error('stopped');
          }
          byMember[member].add(ctx.event.id);
          await new Promise((r) => setTimeout(r, 5));
        };
      const a = await consumer(topic, group, handler('a'), {
        batchSize: 10,
        concurrency: 2,
        consumerName: 'member-a',
      });
      const b = await consumer(topic, group, handler('b'), {
        batchSize: 10,
        concurrency: 2,
        consumerName: 'member-b',
      });
      const first = await Promise.all(
        Array.from({ length: 200 }, (_, i) => out.producer.publish(topic, `k${i % 20}`, { i })),
      );
      await waitUntil(
        () => byMember.a.size + byMember.b.size >= 200,
        30_000,
        'the first 200 handled',
      );
      expect(byMember.a.size).toBeGreaterThan(0);
      expect(byMember.b.size).toBeGreaterThan(0);
      expect(new Set([...byMember.a, ...byMember.b]).size).toBe(200);

      blockA = true;
      const second = await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          out.producer.publish(topic, `k${i % 20}`, { i: 200 + i }),
        ),
      );
      await waitUntil(
        () => blockedInA > 0 || byMember.b.size >= 300 - byMember.a.size,
        20_000,
        'member a holding messages',
      );
      await stop(a, 100); // leaves with its messages unacknowledged
      const all = new Set([...first, ...second]);
      await waitUntil(
        () => [...all].every((id) => byMember.a.has(id) || byMember.b.has(id)),
        45_000,
        'member b took over every message',
      );
      await stop(b);
    });

    it('keeps the order of each key, also across a retried message', async () => {
      const topic = unique('order');
      const out = await producer();
      const seen = new Map<string, number[]>();
      let failedOnce = false;
      const service = await consumer(
        topic,
        unique('g'),
        (data, ctx) => {
          const { seq } = data as { seq: number };
          if (ctx.event.key === 'k3' && seq === 10 && !failedOnce) {
            failedOnce = true;
            throw new Error('once');
          }
          const list = seen.get(ctx.event.key!) ?? [];
          list.push(seq);
          seen.set(ctx.event.key!, list);
        },
        { concurrency: 8 },
      );
      for (let seq = 0; seq < 40; seq++) {
        await Promise.all(
          Array.from({ length: 8 }, (_, k) => out.producer.publish(topic, `k${k}`, { seq })),
        );
      }
      await waitUntil(
        () => [...seen.values()].reduce((n, l) => n + l.length, 0) === 320,
        30_000,
        'all 320 handled',
      );
      for (const [key, list] of seen)
        expect(list, key).toEqual(Array.from({ length: 40 }, (_, i) => i));
      expect(failedOnce).toBe(true);
      await stop(service);
    });

    it('skips a redelivered event id (dedup) and counts it', async () => {
      const topic = unique('dedup');
      const out = await producer();
      const metrics = new StreamMetrics();
      const calls: string[] = [];
      const service = await consumer(
        topic,
        unique('g'),
        (_d, ctx) => void calls.push(ctx.event.id),
        { metrics },
      );
      const id = await out.producer.publish(topic, 'k', { n: 1 });
      await waitUntil(() => calls.length === 1, 10_000, 'the first delivery handled');
      await out.producer.publish(topic, 'k', { n: 1 }, { id }); // a producer retrying with the same id
      await out.producer.publish(topic, 'k', { n: 2 });
      await waitUntil(() => calls.length === 2, 10_000, 'the next event handled');
      expect(calls[0]).toBe(id);
      expect(calls[1]).not.toBe(id);
      // JetStream drops the second publish itself (Nats-Msg-Id); the others deliver it and the dedup store skips it
      expect(await metrics.text()).toMatch(/dispatchbox_stream_messages_handled_total\{[^}]*\} 2/);
      await stop(service);
    });

    it('carries correlation from a consumed event into the events it publishes', async () => {
      const topic = unique('corr-in');
      const next = unique('corr-out');
      const out = await producer();
      const got: { correlationId: string; causationId: string | null }[] = [];
      const downstream = await consumer(
        next,
        unique('g'),
        (_d, ctx) =>
          void got.push({ correlationId: ctx.correlationId, causationId: ctx.event.causationId }),
      );
      const upstream = await consumer(topic, unique('g'), async (data, ctx) => {
        await ctx.publish(next, 'k', { from: data });
      });
      const id = await out.producer.publish(topic, 'k', { n: 1 }, { correlationId: 'order-77' });
      await waitUntil(() => got.length === 1, 15_000, 'the caused event handled');
      expect(got[0]).toEqual({ correlationId: 'order-77', causationId: id });
      await stop(upstream);
      await stop(downstream);
    });

    if (target.restartable) {
      const restartable = target.restartable;
      it('reconnects by itself when the server restarts mid-stream, and loses nothing', async () => {
        const server = await restartable();
        try {
          const topic = unique('restart');
          const out = await producer(server.spec);
          const handled = new Set<number>();
          const service = await consumer(
            topic,
            unique('g'),
            async (data) => {
              handled.add((data as { n: number }).n);
              await new Promise((r) => setTimeout(r, 2));
            },
            { spec: server.spec },
          );
          for (let n = 0; n < 100; n++) await out.producer.publish(topic, `k${n % 5}`, { n });
          await waitUntil(() => handled.size >= 20, 15_000, 'some handled before the restart');
          await server.restart();
          for (let n = 100; n < 200; n++) {
            // a publish may fail while the client reconnects; a real producer retries it
            await waitUntil(
              async () =>
                out.producer.publish(topic, `k${n % 5}`, { n }).then(
                  () => true,
                  () => false,
                ),
              20_000,
              `publish ${n} after the restart`,
              50,
            );
          }
          await waitUntil(() => handled.size === 200, 60_000, 'all 200 handled across the restart');
          expect(service.ready()).toBe(true);
          await stop(service);
        } finally {
          await server.stop();
        }
      });
    }
    // Without a restartable server there is no restart test at all (not a skipped one):
    // `noRestart` says why, where the target is declared.
  });
}

function startChild(spec: object): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/stream-child.ts'], {
    env: { ...process.env, STREAM_CHILD: JSON.stringify(spec) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return child;
}
