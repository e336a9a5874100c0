/**
 * What the reliability layer costs a consumer: no-op handlers through a full stream
 * service against the transport's own consumer and the client library's own loop, on one
 * pre-filled topic (each run a new consumer group reading it from the start).
 *
 *   raw            the client library's loop (streams-raw.ts)
 *   bare           the transport's consumer: fetch(batch) then ack(batch), no envelope
 *                  parsing, no dedup
 *   service        streamService().withErrorHandling().withMetrics().consume(...)
 *   service+dedup  the same .withDedup(redisDedup(...)) on the shared Redis
 *
 * Every variant is timed from the start of the first read that returned messages to the
 * acknowledgement of the last message (the start of a group, a Kafka rebalance, is not
 * timed), and its process CPU time over that span is taken too: on a shared machine the
 * CPU per message says more about overhead than the rate.
 */
import { loadavg } from 'node:os';
import type { Redis as RedisClient } from 'ioredis';
import type { Logger } from 'pino';
import { redisDedup, StreamProducer, streamService } from '../src/streams/index.js';
import { waitForQuiet } from './quiet.js';
import { AckClock, counted, countedTransport, within, type Measured } from './streams-clock.js';
import { rawLoopOf } from './streams-raw.js';
import { RUN_PREFIX, type TransportName, type TransportSetup } from './streams-transports.js';

export const VARIANTS = ['raw', 'bare', 'service', 'service+dedup'] as const;
export type Variant = (typeof VARIANTS)[number];

export interface ConsumeConfig {
  count: number;
  batchSize: number;
  runs: number;
  /** The variants to run (all by default). */
  variants: readonly Variant[];
  logger: Logger;
  log: (message: string) => void;
  /** The shared Redis, for the dedup store. */
  dedupClient: RedisClient;
}

export interface RunSample {
  variant: Variant;
  run: number;
  rate: number;
  /** Process CPU (user + system) per message over the timed span, microseconds. */
  cpuUsPerMessage: number;
  /** Share of the span spent waiting in the transport's fetch and ack calls (not for raw). */
  inTransport: number | null;
  load: number;
}

export interface ConsumeResult {
  transport: TransportName;
  count: number;
  fillRate: number;
  samples: RunSample[];
  /** Variants not measured, and why. */
  missing: Partial<Record<Variant, string>>;
  failures: string[];
}

const PAD = 'x'.repeat(100);
const KEYS = 64;
export const CONSUME_TOPIC = 'bench-consume';

/** Writes `count` envelopes (`{ i, pad }`, 64 keys) to the topic through the library's producer. */
async function fillTopic(setup: TransportSetup, count: number): Promise<number> {
  const transport = await setup.make();
  try {
    await transport.ensureTopics([CONSUME_TOPIC]);
    const producer = new StreamProducer(await transport.producer(), 'bench');
    const started = performance.now();
    for (let i = 0; i < count; i += 1000) {
      const items = [];
      for (let j = i; j < Math.min(count, i + 1000); j++) {
        items.push({
          topic: CONSUME_TOPIC,
          envelope: producer.envelope(CONSUME_TOPIC, `k${j % KEYS}`, { i: j, pad: PAD }),
        });
      }
      await producer.sendEnvelopes(items);
    }
    const rate = count / ((performance.now() - started) / 1000);
    await producer.close();
    return rate;
  } finally {
    await transport.close();
  }
}

async function bareRun(setup: TransportSetup, group: string, config: ConsumeConfig) {
  const transport = await setup.make();
  const clock = new AckClock(config.count);
  try {
    const consumer = counted(
      await transport.consumer({
        topics: [CONSUME_TOPIC],
        group,
        consumerName: `${group}-1`,
        claimIdleMs: 30_000,
        startAt: 'earliest',
      }),
      clock,
    );
    while (clock.acked < config.count) {
      const batch = await consumer.fetch(config.batchSize, 1000);
      if (batch.length > 0) await consumer.ack(batch);
    }
    await consumer.close();
    return clock.result();
  } finally {
    await transport.close();
  }
}

async function serviceRun(
  setup: TransportSetup,
  group: string,
  config: ConsumeConfig,
  dedup: boolean,
) {
  const clock = new AckClock(config.count);
  const transport = countedTransport(await setup.make(), clock);
  let handled = 0;
  const builder = streamService({ name: 'bench', transport, logger: config.logger });
  if (dedup) {
    builder.withDedup(redisDedup(config.dedupClient, { prefix: `${RUN_PREFIX}:dedup:` }), {
      ttl: '10m',
    });
  }
  const service = builder
    .withErrorHandling()
    .withMetrics()
    .consume({
      topics: [CONSUME_TOPIC],
      group,
      batchSize: config.batchSize,
      handler: () => {
        handled += 1;
      },
    })
    .build();
  await service.start();
  try {
    await within(clock.done, timeoutMs(config.count), `${group} on ${setup.name}`);
  } finally {
    await service.stop({ graceMs: 5000 });
  }
  if (handled < config.count) {
    throw new Error(`${group}: ${handled} of ${config.count} messages handled`);
  }
  return clock.result();
}

/** Generous: a run that reads under 500 messages a second is broken, not slow. */
const timeoutMs = (count: number) => 30_000 + count * 2;

async function runVariant(
  setup: TransportSetup,
  variant: Variant,
  group: string,
  config: ConsumeConfig,
): Promise<Measured | null> {
  if (variant === 'bare')
    return within(bareRun(setup, group, config), timeoutMs(config.count), group);
  if (variant === 'service') return serviceRun(setup, group, config, false);
  if (variant === 'service+dedup') return serviceRun(setup, group, config, true);
  const raw = rawLoopOf(setup);
  if (!raw) return null;
  const cpuBefore = process.cpuUsage();
  const timed = await within(
    raw({ topic: CONSUME_TOPIC, group, batchSize: config.batchSize, count: config.count }),
    timeoutMs(config.count),
    group,
  );
  // The raw loop times itself; its CPU is taken over the whole call (group creation too).
  const cpu = process.cpuUsage(cpuBefore);
  return { ...timed, cpuUs: cpu.user + cpu.system };
}

/** Fills the topic once, then runs every variant `runs` times, the order rotating per run. */
export async function measureConsume(
  setup: TransportSetup,
  config: ConsumeConfig,
): Promise<ConsumeResult> {
  const { log } = config;
  log(`${setup.name}: filling ${config.count} messages into ${CONSUME_TOPIC}`);
  const fillRate = await fillTopic(setup, config.count);
  log(`${setup.name}: filled at ${Math.round(fillRate)}/s`);
  const result: ConsumeResult = {
    transport: setup.name,
    count: config.count,
    fillRate,
    samples: [],
    missing: {},
    failures: [],
  };
  if (!rawLoopOf(setup)) result.missing.raw = `no raw ${setup.name} loop in bench/streams-raw.ts`;
  const variants = config.variants.filter((v) => result.missing[v] === undefined);
  // One untimed pass of each variant over the first messages: the first run in a process
  // otherwise pays for compiling the code it runs (2-3 times the CPU per message).
  const warmCount = Math.min(config.count, 10_000);
  for (const variant of variants) {
    const group = `warm-${variant.replace('+', '-')}-${Date.now().toString(36)}`;
    await runVariant(setup, variant, group, { ...config, count: warmCount }).catch((error: Error) =>
      log(`${setup.name} warm-up ${variant} failed: ${error.message}`),
    );
  }
  for (let run = 1; run <= config.runs; run++) {
    const order = variants.map((_, i) => variants[(i + run - 1) % variants.length]!);
    for (const variant of order) {
      await waitForQuiet(500);
      const group = `${variant.replace('+', '-')}-${run}-${Date.now().toString(36)}`;
      try {
        const timed = await runVariant(setup, variant, group, config);
        if (!timed) continue;
        const sample: RunSample = {
          variant,
          run,
          rate: timed.messages / (timed.ms / 1000),
          cpuUsPerMessage: timed.cpuUs / timed.messages,
          inTransport: timed.inTransportMs === undefined ? null : timed.inTransportMs / timed.ms,
          load: loadavg()[0]!,
        };
        result.samples.push(sample);
        log(
          `${setup.name} run ${run} ${variant.padEnd(13)} ${Math.round(sample.rate)
            .toString()
            .padStart(
              7,
            )}/s  ${sample.cpuUsPerMessage.toFixed(1)} µs CPU/msg${sample.inTransport === null ? '' : `, ${(sample.inTransport * 100).toFixed(0)} % in fetch/ack`}`,
        );
      } catch (error) {
        const message = `${setup.name} run ${run} ${variant}: ${(error as Error).message}`;
        result.failures.push(message);
        log(`FAILED ${message}`);
      }
    }
  }
  return result;
}
