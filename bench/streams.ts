/**
 * `npm --prefix bench run bench:streams` — stream processing's speed (issue 21, "Speed"):
 *
 *   consume  what the reliability layer costs: no-op handlers through a full stream
 *            service (with and without Redis dedup) against the transport's bare consumer
 *            and the client library's own loop, on one pre-filled topic
 *            (streams-consume.ts); target: the service at most 20 % below the bare
 *            consumer
 *   relay    the outbox relay on PostgreSQL to Redis Streams: events/s and lag at steady
 *            publish rates and for a burst written before the relay starts
 *            (streams-relay.ts)
 *
 *   --transport redis|nats|kafka|all   (default all; a transport whose module is not in
 *                                      this tree is skipped, and the report says so)
 *   --parts layer,consume,relay        (default all; layer: the service's own CPU per
 *                                      message over an in-memory transport, streams-layer.ts)
 *   --count N                          messages pre-filled per transport (default 50,000)
 *   --runs N                           repetitions of each consume variant (default 3)
 *   --variants a,b                     some of raw, bare, service, service+dedup (default all)
 *   --quick                            small counts, one run each: checks the harness
 *
 * Only 127.0.0.1: Redis db 12 (keys under a prefix of this run, deleted after), NATS
 * 4222 (streams of this run, deleted after), the Kafka mock cluster in a kcat child
 * process (killed after), PostgreSQL database test (schema bench_streams_relay, dropped).
 */
import { cpus, loadavg, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { measureConsume, VARIANTS, type ConsumeResult, type Variant } from './streams-consume.js';
import { measureLayer } from './streams-layer.js';
import { measureRelay, type BurstResult, type SteadyResult } from './streams-relay.js';
import {
  burstSummary,
  burstTable,
  consumeTable,
  consumeTargets,
  steadyTable,
} from './streams-report.js';
import {
  deleteRunKeys,
  newRedisClient,
  setupTransport,
  TRANSPORT_NAMES,
  type TransportName,
} from './streams-transports.js';

const started = performance.now();
const log = (message: string) =>
  console.log(
    `[${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s, load ${loadavg()[0]!.toFixed(1)}] ${message}`,
  );

function parse() {
  const { values } = parseArgs({
    options: {
      transport: { type: 'string', default: 'all' },
      parts: { type: 'string', default: 'layer,consume,relay' },
      count: { type: 'string' },
      runs: { type: 'string' },
      variants: { type: 'string' },
      quick: { type: 'boolean', default: false },
    },
  });
  const transports =
    values.transport === 'all'
      ? [...TRANSPORT_NAMES]
      : values.transport.split(',').map((t) => t.trim());
  for (const t of transports) {
    if (!(TRANSPORT_NAMES as readonly string[]).includes(t)) {
      throw new Error(`--transport: unknown ${JSON.stringify(t)}; give redis, nats, kafka or all`);
    }
  }
  const parts = new Set(values.parts.split(',').map((p) => p.trim()));
  for (const p of parts) {
    if (p !== 'layer' && p !== 'consume' && p !== 'relay') {
      throw new Error(`--parts: unknown ${JSON.stringify(p)}; give some of layer, consume, relay`);
    }
  }
  const whole = (value: string | undefined, fallback: number, name: string) => {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1)
      throw new Error(`--${name} must be a whole number of at least 1; got ${value}`);
    return n;
  };
  const variants = values.variants
    ? values.variants.split(',').map((v) => v.trim())
    : [...VARIANTS];
  for (const v of variants) {
    if (!(VARIANTS as readonly string[]).includes(v)) {
      throw new Error(
        `--variants: unknown ${JSON.stringify(v)}; give some of ${VARIANTS.join(', ')}`,
      );
    }
  }
  const quick = values.quick;
  return {
    transports: transports as TransportName[],
    parts,
    quick,
    count: whole(values.count, quick ? 5_000 : 50_000, 'count'),
    runs: whole(values.runs, quick ? 1 : 3, 'runs'),
    variants: variants as Variant[],
  };
}

async function main(): Promise<void> {
  const options = parse();
  const logger = pino({ level: 'warn' });
  log(
    `streams benchmark: ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.versions.node}; ` +
      `transports ${options.transports.join(', ')}; parts ${[...options.parts].join(', ')}; ${options.count} messages, ${options.runs} runs`,
  );
  const consumeResults: ConsumeResult[] = [];
  const skipped: string[] = [];
  let relay: { steady: SteadyResult[]; burst: BurstResult[] } | null = null;
  const layer = options.parts.has('layer')
    ? await measureLayer(options.count, options.runs, logger, log)
    : null;
  const dedupClient = newRedisClient();
  try {
    if (options.parts.has('consume')) {
      for (const name of options.transports) {
        const prepared = await setupTransport(name);
        if ('skipped' in prepared) {
          skipped.push(`${name}: skipped, ${prepared.skipped}`);
          log(`${name}: skipped, ${prepared.skipped}`);
          continue;
        }
        const { setup } = prepared;
        try {
          consumeResults.push(
            await measureConsume(setup, {
              count: options.count,
              batchSize: 100,
              runs: options.runs,
              variants: options.variants,
              logger,
              log,
              dedupClient,
            }),
          );
        } finally {
          await setup.cleanup(['bench-consume']);
        }
      }
    }
    if (options.parts.has('relay')) {
      relay = await measureRelay({
        steadyRates: [2000, 5000],
        steadySeconds: options.quick ? 2 : 10,
        steadyRuns: options.quick ? 1 : 2,
        burstCount: options.quick ? 5_000 : 50_000,
        burstRuns: options.quick ? 1 : 3,
        logger,
        log,
      });
    }
  } finally {
    dedupClient.disconnect();
    await deleteRunKeys();
  }

  console.log(
    `\n## Streams (${new Date().toISOString().slice(0, 16)} UTC, load ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' / ')})\n`,
  );
  if (layer) {
    console.log(
      `The stream service alone (in-memory transport, no-op handlers): ${layer.cpuUsPerMessage.median.toFixed(1)} µs CPU/msg ` +
        `(${layer.cpuUsPerMessage.min.toFixed(1)}–${layer.cpuUsPerMessage.max.toFixed(1)}), ${Math.round(layer.rate.median).toLocaleString('en-US')} msgs/s, ${layer.rate.n} runs\n`,
    );
  }
  if (consumeResults.length > 0) {
    console.log(
      `Consume: ${options.count.toLocaleString('en-US')} messages pre-filled, batches of 100, no-op handlers, an untimed warm-up pass, then ${options.runs} runs each (order rotating); CPU is the whole process's per message; "in fetch/ack" is the time spent waiting in the transport's calls (over 100 % when they overlap)\n`,
    );
    console.log(consumeTable(consumeResults));
    console.log('');
    for (const line of consumeTargets(consumeResults)) console.log(`- ${line}`);
    for (const result of consumeResults) {
      console.log(
        `- ${result.transport}: filled at ${Math.round(result.fillRate).toLocaleString('en-US')}/s`,
      );
      for (const failure of result.failures) console.log(`- FAILED ${failure}`);
    }
  }
  for (const line of skipped) console.log(`- ${line}`);
  if (relay) {
    console.log(
      '\nRelay, PostgreSQL → Redis Streams, steady publishing (publishMany every 10 ms):\n',
    );
    console.log(steadyTable(relay.steady));
    console.log('\nRelay, burst written before the relay starts:\n');
    console.log(burstTable(relay.burst));
    console.log(`\n- ${burstSummary(relay.burst)}`);
  }
  log('done');
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
