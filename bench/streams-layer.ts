/**
 * The stream service's own CPU per message, with no server: the consumer runner and the
 * reliability layer fed by a transport that hands out messages from memory and
 * acknowledges by counting. What it measures is the part of a real run the library adds
 * on top of the transport (envelope parsing, the runner's bookkeeping, the correlation
 * scope, metrics), without the network's noise; a real transport's cost comes on top.
 */
import { loadavg } from 'node:os';
import type { Logger } from 'pino';
import {
  StreamProducer,
  streamService,
  type StreamTransport,
  type TransportConsumer,
  type TransportMessage,
} from '../src/streams/index.js';
import { toOutgoing } from '../src/streams/codec.js';
import { spread, type Spread } from './stats.js';

const PAD = 'x'.repeat(100);
const nothing = (): Promise<void> => Promise.resolve();
const noProducer = () => ({ send: nothing, close: nothing });

/** Messages as the Redis transport hands them out, envelopes made by the library's producer. */
function messages(count: number): TransportMessage[] {
  const producer = new StreamProducer(noProducer(), 'bench');
  return Array.from({ length: count }, (_, i) => {
    const key = `k${i % 64}`;
    const out = toOutgoing('layer', producer.envelope('layer', key, { i, pad: PAD }));
    return {
      topic: 'layer',
      key,
      value: out.value,
      headers: out.headers,
      position: `${i + 1}-0`,
      deliveryCount: 1,
      orderKey: `layer\u0000${key}`,
    };
  });
}

/** Hands out `all` from memory; `done` resolves once every one is acknowledged. */
function memoryTransport(all: TransportMessage[]) {
  let next = 0;
  let acked = 0;
  let resolveDone: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  const consumer: TransportConsumer = {
    fetch: async (max) => {
      await new Promise((resolve) => setImmediate(resolve));
      const batch = all.slice(next, next + max);
      next += batch.length;
      return batch;
    },
    ack: async (messages) => {
      await new Promise((resolve) => setImmediate(resolve));
      acked += messages.length;
      if (acked >= all.length) resolveDone();
    },
    lag: () => Promise.resolve(all.length - acked),
    pending: () => Promise.resolve(next - acked),
    close: nothing,
  };
  const transport: StreamTransport = {
    kind: 'memory',
    ensureTopics: nothing,
    consumer: () => Promise.resolve(consumer),
    producer: () => Promise.resolve(noProducer()),
    connected: () => true,
    close: nothing,
  };
  return { transport, done };
}

export interface LayerResult {
  count: number;
  cpuUsPerMessage: Spread;
  rate: Spread;
}

/** `runs` services each draining `count` messages from memory; CPU µs per message and msgs/s. */
export async function measureLayer(
  count: number,
  runs: number,
  logger: Logger,
  log: (message: string) => void,
): Promise<LayerResult> {
  const all = messages(count);
  const cpu: number[] = [];
  const rates: number[] = [];
  for (let run = 0; run <= runs; run++) {
    const { transport, done } = memoryTransport(all);
    const service = streamService({ name: 'bench', transport, logger })
      .withErrorHandling()
      .withMetrics()
      .consume({ topics: ['layer'], group: 'layer', handler: () => undefined })
      .build();
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    await service.start();
    await done;
    const ms = performance.now() - started;
    const used = process.cpuUsage(cpuBefore);
    await service.stop();
    // the first run warms the JIT up and is not counted
    if (run === 0) continue;
    cpu.push((used.user + used.system) / count);
    rates.push(count / (ms / 1000));
    log(
      `layer in memory run ${run}: ${Math.round(count / (ms / 1000))}/s, ${((used.user + used.system) / count).toFixed(1)} µs CPU/msg (load ${loadavg()[0]!.toFixed(1)})`,
    );
  }
  return { count, cpuUsPerMessage: spread(cpu)!, rate: spread(rates)! };
}
