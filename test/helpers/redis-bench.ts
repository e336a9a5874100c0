/**
 * Quick throughput numbers for the Redis backend on this machine (the comparative
 * benchmarks live in bench/). Run: npx tsx test/helpers/redis-bench.ts [count]
 * Uses database 5 of the shared Redis under a prefix of its own, deleted at the end.
 */
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { createRedisBackend } from '../../src/backends/redis/index.js';
import { CommandBus } from '../../src/bus/bus.js';
import { TransientError } from '../../src/core/errors.js';
import { deletePrefix, REDIS_URL, uniquePrefix } from './redis.js';

const count = Number(process.argv[2] ?? 100_000);
const prefix = uniquePrefix('bench');
const backend = await createRedisBackend({ url: REDIS_URL, prefix });
const bus = new CommandBus({ backend, logger: pino({ level: 'silent' }) });
const rate = (n: number, ms: number) => `${Math.round((n / ms) * 1000).toLocaleString('en')}/s`;

async function drain(domain: string, total: number, concurrency = 32): Promise<number> {
  const started = Date.now();
  const worker = await bus.worker({ concurrency, pollIntervalMs: 50, domains: [domain] }).start();
  while ((await bus.countByState(domain)).completed < total)
    await new Promise((r) => setTimeout(r, 20));
  const ms = Date.now() - started;
  await worker.stop(5000);
  return ms;
}

try {
  // enqueue-bulk
  const bulk = 'bench-bulk';
  bus.handle(bulk, 'Job', () => null);
  let t = Date.now();
  for (let i = 0; i < count; i += 10_000) {
    await bus.sendMany(
      Array.from({ length: Math.min(10_000, count - i) }, (_, n) => ({
        domain: bulk,
        type: 'Job',
        data: { n },
      })),
    );
  }
  console.log(`sendMany ${count}: ${Date.now() - t} ms (${rate(count, Date.now() - t)})`);

  // drain
  const ms = await drain(bulk, count);
  console.log(`drain ${count} (concurrency 32): ${ms} ms (${rate(count, ms)})`);

  // enqueue-single: concurrent single sends (coalesced) and strictly sequential ones
  const single = 'bench-single';
  const n1 = Math.min(count, 20_000);
  t = Date.now();
  for (let i = 0; i < n1; i += 100) {
    await Promise.all(Array.from({ length: 100 }, (_, n) => bus.send(single, 'Job', { n: i + n })));
  }
  console.log(`send x${n1} (100 at a time): ${Date.now() - t} ms (${rate(n1, Date.now() - t)})`);
  t = Date.now();
  for (let i = 0; i < 2000; i++) await bus.send(single, 'Job', { i });
  console.log(`send x2000 one after another: ${Date.now() - t} ms (${rate(2000, Date.now() - t)})`);

  // retry: every command fails once, then succeeds
  const retry = 'bench-retry';
  const failedOnce = new Set<string>();
  bus.handle(retry, 'Job', { backoff: { type: 'fixed', delay: 0 } }, (_d, c) => {
    if (!failedOnce.has(c.commandId)) {
      failedOnce.add(c.commandId);
      throw new TransientError('once');
    }
    return null;
  });
  const n2 = Math.min(count, 20_000);
  await bus.sendMany(
    Array.from({ length: n2 }, (_, n) => ({ domain: retry, type: 'Job', data: { n } })),
  );
  const rms = await drain(retry, n2);
  console.log(`retry-once ${n2}: ${rms} ms (${rate(n2, rms)})`);

  // latency: send -> handler start, idle worker, one at a time
  const lat = 'bench-latency';
  const waits = new Map<string, (at: number) => void>();
  bus.handle(lat, 'Ping', (_d, c) => waits.get(c.commandId)?.(performance.now()));
  const worker = await bus.worker({ concurrency: 8, pollIntervalMs: 1000, domains: [lat] }).start();
  const samples: number[] = [];
  for (let i = 0; i < 500; i++) {
    const before = performance.now();
    let resolve!: (at: number) => void;
    const ran = new Promise<number>((r) => (resolve = r));
    // The id is chosen here so the waiter exists before the worker can pick the command up.
    const id = randomUUID();
    waits.set(id, resolve);
    await bus.send(lat, 'Ping', {}, { id });
    samples.push((await ran) - before);
    await new Promise((r) => setTimeout(r, 2));
  }
  await worker.stop(2000);
  samples.sort((a, b) => a - b);
  const p = (q: number) => samples[Math.floor(q * (samples.length - 1))]!.toFixed(2);
  console.log(`latency send->start: p50 ${p(0.5)} ms, p99 ${p(0.99)} ms`);
} finally {
  await backend.close();
  await deletePrefix(prefix);
}
