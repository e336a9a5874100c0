/**
 * A worker process for the Redis crash and restart tests, meant to be killed with
 * SIGKILL. Its handler either holds every command until aborted ('hold': commands stay
 * in flight) or finishes each after `handlerDelayMs` ('run'). It reports its progress
 * to the parent over IPC. Configuration comes as JSON in DISPATCHBOX_REDIS_WORKER.
 */
import { setTimeout as delay } from 'node:timers/promises';
import pino from 'pino';
import { createRedisBackend } from '../../src/backends/redis/index.js';
import { CommandBus } from '../../src/bus/bus.js';

export interface RedisWorkerConfig {
  url: string;
  prefix: string;
  domain: string;
  type: string;
  workerId: string;
  concurrency: number;
  leaseMs: number;
  mode: 'hold' | 'run';
  handlerDelayMs: number;
}

export interface RedisWorkerProgress {
  kind: 'progress';
  started: number;
  completed: number;
}

const config = JSON.parse(
  process.env.DISPATCHBOX_REDIS_WORKER ?? 'null',
) as RedisWorkerConfig | null;
if (!config)
  throw new Error('DISPATCHBOX_REDIS_WORKER is not set: run this file from a Redis test');

const logger = pino({ level: 'error' }, pino.destination(2));
const backend = await createRedisBackend({
  url: config.url,
  prefix: config.prefix,
  connectTimeoutMs: 20_000,
});
const bus = new CommandBus({ backend, logger });
// Held commands must stay in flight until the kill, however slowly a busy machine starts them.
bus.handle(config.domain, config.type, { timeout: 600_000 }, async (_data, ctx) => {
  if (config.mode === 'hold') {
    await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
    return 'held';
  }
  if (config.handlerDelayMs > 0) await delay(config.handlerDelayMs);
  return 'done';
});
const worker = await bus
  .worker({
    workerId: config.workerId,
    concurrency: config.concurrency,
    claimBatchSize: Math.min(config.concurrency, 1000),
    // A claim waits until a quarter of concurrency + prefetch is free; with a prefetch as
    // large as the concurrency, every handler slot gets filled.
    prefetch: config.concurrency,
    leaseMs: config.leaseMs,
    pollIntervalMs: 100,
  })
  .start();

setInterval(() => {
  const message: RedisWorkerProgress = {
    kind: 'progress',
    started: worker.stats.started,
    completed: worker.stats.completed,
  };
  process.send?.(message);
}, 50);
