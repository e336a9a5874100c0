/**
 * Stream events into the command bus: commandFromEvent makes one command per event (its
 * id the idempotency key), carrying the event's correlation id, however often the event is
 * delivered; and the service builder refuses bad parts with errors that say what to fix.
 * On the Redis Streams transport and the embedded store.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPGliteBackend } from '../src/backends/pglite/index.js';
import { CommandBus } from '../src/bus/bus.js';
import { ConfigurationError, ValidationError } from '../src/core/errors.js';
import { redisStreams } from '../src/streams/transports/redis/index.js';
import { StreamMetrics, streamService, type StreamService } from '../src/streams/index.js';
import { commandFromEvent } from '../src/streams/to-command.js';
import { waitUntil } from './fixtures/wait-until.js';
import { deletePrefix, redisAvailable, REDIS_URL, uniquePrefix } from './helpers/redis.js';

const quiet = pino({ level: 'silent' });
const prefix = uniquePrefix('streams-bus');
let bus: CommandBus;
const services: StreamService[] = [];

beforeAll(async () => {
  if (!(await redisAvailable())) throw new Error('Redis is needed at 127.0.0.1:6379');
  const backend = await createPGliteBackend();
  await backend.migrate();
  bus = new CommandBus({ backend, logger: quiet });
});

afterAll(async () => {
  for (const s of services) await s.stop({ graceMs: 500 });
  await bus.close();
  await deletePrefix(prefix);
});

const transport = () => redisStreams({ url: REDIS_URL, keyPrefix: `${prefix}:` });

async function started(builder: ReturnType<typeof streamService>): Promise<StreamService> {
  const service = builder.build();
  await service.start();
  services.push(service);
  return service;
}

describe('stream events into the command bus', () => {
  it('makes one command per event, keyed by the event id and correlated, even when the event comes twice', async () => {
    const out = await started(
      streamService({ name: 'shop', transport: transport(), logger: quiet }).produce(),
    );
    const metrics = new StreamMetrics();
    await started(
      streamService({ name: 'billing', transport: transport(), logger: quiet })
        .withBus(bus)
        .withMetrics(metrics)
        .consume({
          topics: ['orders'],
          group: 'orders-to-commands',
          pollWait: 100,
          handler: commandFromEvent<{ orderId: string; total: number }>(
            'billing',
            'charge',
            (data) => ({
              orderId: data.orderId,
              cents: data.total * 100,
            }),
          ),
        }),
    );
    const id = await out.producer.publish(
      'orders',
      'o-1',
      { orderId: 'o-1', total: 12 },
      { correlationId: 'checkout-9' },
    );
    // the same event again (a producer's retry): no dedup store here, the idempotency key holds
    await out.producer.publish(
      'orders',
      'o-1',
      { orderId: 'o-1', total: 12 },
      { id, correlationId: 'checkout-9' },
    );
    await waitUntil(
      async () => /dispatchbox_stream_messages_handled_total\{[^}]*\} 2/.test(await metrics.text()),
      10_000,
      'both deliveries handled',
    );
    const commands = await bus.list({ domain: 'billing' });
    expect(commands).toHaveLength(1);
    expect(commands[0]).toMatchObject({
      type: 'charge',
      data: { orderId: 'o-1', cents: 1200 },
      correlationId: 'checkout-9',
    });
    expect(commands[0]!.headers['event-id']).toBe(id);
  });

  it("skips a redelivered event with the SQL store's dedup table (bus.backend.dedup)", async () => {
    const out = await started(
      streamService({ name: 'shop', transport: transport(), logger: quiet }).produce(),
    );
    const metrics = new StreamMetrics();
    const calls: string[] = [];
    await started(
      streamService({ name: 'mailer', transport: transport(), logger: quiet })
        .withDedup(bus.backend.dedup!, { ttl: '1h', localCacheSize: 0 })
        .withMetrics(metrics)
        .consume({
          topics: ['signups'],
          group: 'mailer',
          pollWait: 100,
          handler: (_d, ctx) => void calls.push(ctx.event.id),
        }),
    );
    const id = await out.producer.publish('signups', 'u-1', { user: 'u-1' });
    await out.producer.publish('signups', 'u-1', { user: 'u-1' }, { id });
    await waitUntil(
      async () => /dispatchbox_stream_dedup_hits_total\{[^}]*\} 1/.test(await metrics.text()),
      10_000,
      'the second delivery skipped',
    );
    expect(calls).toEqual([id]);
    expect(await bus.backend.dedup!.seenEvents('mailer', [id])).toEqual(new Set([id]));
  });

  it('refuses a service without a name or transport, a bad consumer and a bad topic, saying what to fix', () => {
    expect(() => streamService({ name: '', transport: transport() })).toThrow(ConfigurationError);
    expect(() => streamService({ name: 'x', transport: {} as never })).toThrow(/redisStreams/);
    const builder = streamService({ name: 'x', transport: transport() });
    expect(() => builder.consume({ topics: [], group: 'g', handler: () => {} })).toThrow(
      /non-empty array/,
    );
    expect(() => builder.consume({ topics: ['a b'], group: 'g', handler: () => {} })).toThrow(
      ValidationError,
    );
    expect(() => builder.consume({ topics: ['a'], group: 'g', handler: 'no' as never })).toThrow(
      /handler/,
    );
    expect(() =>
      builder.consume({ topics: ['a'], group: 'g', handler: () => {}, concurrency: 0 }),
    ).toThrow(/concurrency/);
    expect(() => builder.withErrorHandling({ retry: { maxAttempts: 0 } })).toThrow(/maxAttempts/);
    expect(() => builder.withDedup({} as never)).toThrow(/dedup store/);
  });

  it('refuses to publish bad input and sends nothing', async () => {
    const out = await started(
      streamService({ name: 'shop', transport: transport(), logger: quiet }).produce(),
    );
    await expect(out.producer.publish('bad topic', 'k', {})).rejects.toThrow(/topic must be/);
    await expect(out.producer.publish('t', '', {})).rejects.toThrow(/key must be/);
    await expect(out.producer.publish('t', 'k', { n: 1n })).rejects.toThrow(ValidationError);
    await expect(
      out.producer.publish('t', 'k', {}, { headers: { 'bad name': 'x' } }),
    ).rejects.toThrow(/header/);
  });
});
