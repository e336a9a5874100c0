/**
 * The outbox relay on PostgreSQL (schema bench_streams_relay of database test, dropped
 * after) delivering to Redis Streams, with the relay's defaults (batches of 500, 50 ms
 * idle):
 *
 *   steady  bus.publishMany every 10 ms at a target rate for a while; the lag as the age
 *           of the oldest waiting event (store.stats(), every 200 ms) and publish→stream
 *           latency per event: from publishMany's commit to the entry's Redis id, which
 *           is the server's clock at XADD (read from the stream after, so reading costs
 *           the measured process nothing meanwhile)
 *   burst   N events written first, with no relay running; then the relay started and
 *           timed until the last of them is on the stream
 */
import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { createPostgresBackend } from '../src/backends/postgres/index.js';
import type { OutboxStore } from '../src/backends/roles/outbox.js';
import { CommandBus } from '../src/bus/bus.js';
import type { PublishItem } from '../src/bus/publish.js';
import { startOutboxRelay } from '../src/streams/outbox-relay.js';
import { redisStreams } from '../src/streams/transports/redis/index.js';
import { percentile } from './stats.js';
import { newRedisClient, REDIS_URL, RUN_PREFIX } from './streams-transports.js';

export const PG_URL = 'postgres://postgres@127.0.0.1:5432/test';
const SCHEMA = 'bench_streams_relay';
const PAD = 'x'.repeat(100);
const KEYS = 64;
const TICK_MS = 10;

export interface RelayConfig {
  steadyRates: number[];
  steadySeconds: number;
  steadyRuns: number;
  burstCount: number;
  burstRuns: number;
  logger: Logger;
  log: (message: string) => void;
}

export interface SteadyResult {
  targetRate: number;
  publishedRate: number;
  relayedRate: number;
  latency: { p50: number; p99: number; max: number };
  oldestAge: { p50: number; max: number };
  maxPending: number;
  delivered: number;
  load: number;
}

export interface BurstResult {
  count: number;
  writeMs: number;
  drainMs: number;
  relayedRate: number;
  load: number;
}

const items = (topic: string, from: number, n: number): PublishItem[] =>
  Array.from({ length: n }, (_, k) => ({
    topic,
    key: `k${(from + k) % KEYS}`,
    data: { i: from + k, pad: PAD },
  }));

/** Every entry of a stream: its event id and the server's time of its XADD (ms). */
async function arrivals(streamKey: string): Promise<Map<string, number>> {
  const client = newRedisClient();
  const arrived = new Map<string, number>();
  try {
    let from = '-';
    for (;;) {
      const entries = await client.xrange(streamKey, from, '+', 'COUNT', 10_000);
      for (const [entryId, fields] of entries) {
        const eventId = fields[fields.indexOf('id') + 1];
        // first arrival counts (the relay may deliver an event twice)
        if (eventId && !arrived.has(eventId)) arrived.set(eventId, Number(entryId.split('-')[0]));
      }
      if (entries.length < 10_000) return arrived;
      from = `(${entries.at(-1)![0]}`;
    }
  } finally {
    client.disconnect();
  }
}

async function waitForLength(streamKey: string, count: number, timeoutMs: number): Promise<void> {
  const client = newRedisClient();
  try {
    const deadline = Date.now() + timeoutMs;
    while ((await client.xlen(streamKey)) < count) {
      if (Date.now() > deadline) {
        throw new Error(`${streamKey}: fewer than ${count} entries after ${timeoutMs} ms`);
      }
      await sleep(20);
    }
  } finally {
    client.disconnect();
  }
}

/** Samples the outbox every 200 ms until stopped: the oldest waiting event's age and the count. */
function sampleOutbox(outbox: OutboxStore) {
  const ages: number[] = [];
  const pendings: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const stats = await outbox.stats();
      ages.push(stats.oldestCreatedAt ? Date.now() - stats.oldestCreatedAt.getTime() : 0);
      pendings.push(stats.pending);
      await sleep(200);
    }
  })();
  return async () => {
    running = false;
    await loop;
    return { ages, pendings };
  };
}

async function startRelay(bus: CommandBus, logger: Logger) {
  const transport = redisStreams({ url: REDIS_URL, keyPrefix: `${RUN_PREFIX}:` });
  return startOutboxRelay({ bus, transport, logger });
}

async function steady(
  bus: CommandBus,
  outbox: OutboxStore,
  rate: number,
  run: number,
  config: RelayConfig,
): Promise<SteadyResult> {
  const topic = `relay-${rate}-${run}`;
  const relay = await startRelay(bus, config.logger);
  const stopSampling = sampleOutbox(outbox);
  const committedAt = new Map<string, number>();
  const durationMs = config.steadySeconds * 1000;
  const started = Date.now();
  let published = 0;
  for (let elapsed = 0; elapsed < durationMs; elapsed = Date.now() - started) {
    const due =
      Math.min(Math.floor((rate * elapsed) / 1000), Math.round((rate * durationMs) / 1000)) -
      published;
    if (due > 0) {
      const done = await bus.publishMany(items(topic, published, due));
      const now = Date.now();
      for (const event of done) committedAt.set(event.id, now);
      published += due;
    }
    await sleep(TICK_MS - ((Date.now() - started) % TICK_MS));
  }
  const publishedMs = Date.now() - started;
  const streamKey = `${RUN_PREFIX}:${topic}`;
  await waitForLength(streamKey, published, 60_000);
  const { ages, pendings } = await stopSampling();
  await relay.stop();
  const arrived = await arrivals(streamKey);
  const latencies = [...committedAt].map(([id, at]) => arrived.get(id)! - at).sort((a, b) => a - b);
  const lastArrival = Math.max(...arrived.values());
  const sortedAges = [...ages].sort((a, b) => a - b);
  return {
    targetRate: rate,
    publishedRate: published / (publishedMs / 1000),
    relayedRate: arrived.size / ((lastArrival - started) / 1000),
    latency: {
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      max: latencies.at(-1)!,
    },
    oldestAge: { p50: percentile(sortedAges, 50), max: sortedAges.at(-1) ?? 0 },
    maxPending: Math.max(0, ...pendings),
    delivered: arrived.size,
    load: loadavg()[0]!,
  };
}

async function burst(bus: CommandBus, run: number, config: RelayConfig): Promise<BurstResult> {
  const topic = `relay-burst-${run}`;
  const count = config.burstCount;
  const writeStarted = performance.now();
  for (let i = 0; i < count; i += 1000) {
    await bus.publishMany(items(topic, i, Math.min(1000, count - i)));
  }
  const writeMs = performance.now() - writeStarted;
  const started = Date.now();
  const relay = await startRelay(bus, config.logger);
  const streamKey = `${RUN_PREFIX}:${topic}`;
  await waitForLength(streamKey, count, 120_000);
  await relay.stop();
  const arrived = await arrivals(streamKey);
  const drainMs = Math.max(...arrived.values()) - started;
  return { count, writeMs, drainMs, relayedRate: count / (drainMs / 1000), load: loadavg()[0]! };
}

/** Steady runs (each rate, `steadyRuns` times) then bursts, on a schema dropped at the end. */
export async function measureRelay(
  config: RelayConfig,
): Promise<{ steady: SteadyResult[]; burst: BurstResult[] }> {
  const backend = await createPostgresBackend({ connectionString: PG_URL, schema: SCHEMA });
  await backend.driver.query(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`);
  await backend.migrate();
  const bus = new CommandBus({ backend, logger: config.logger });
  const outbox = backend.outbox;
  const results = { steady: [] as SteadyResult[], burst: [] as BurstResult[] };
  try {
    for (let run = 1; run <= config.steadyRuns; run++) {
      for (const rate of config.steadyRates) {
        const r = await steady(bus, outbox, rate, run, config);
        results.steady.push(r);
        config.log(
          `relay steady ${rate}/s run ${run}: published ${Math.round(r.publishedRate)}/s, relayed ${Math.round(r.relayedRate)}/s, ` +
            `latency p50 ${r.latency.p50} p99 ${r.latency.p99} max ${r.latency.max} ms, oldest waiting max ${r.oldestAge.max} ms`,
        );
      }
    }
    for (let run = 1; run <= config.burstRuns; run++) {
      const r = await burst(bus, run, config);
      results.burst.push(r);
      config.log(
        `relay burst run ${run}: ${r.count} written in ${Math.round(r.writeMs)} ms, drained in ${Math.round(r.drainMs)} ms (${Math.round(r.relayedRate)}/s)`,
      );
    }
  } finally {
    await backend.driver.query(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`);
    await bus.close();
  }
  return results;
}
