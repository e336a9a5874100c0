import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { Adapter, EnqueueOptions, JobHandler, Payload } from './adapter.js';
import { REDIS_DB } from './adapter.js';

const QUEUE = 'bench';
const connection = { host: '127.0.0.1', port: 6379, db: REDIS_DB, maxRetriesPerRequest: null };

/**
 * BullMQ on Redis (db 9). Worker concurrency 32; other settings are BullMQ's defaults
 * (completed jobs kept, as ours are). The retry workload's jobs carry `attempts: 2` with
 * no backoff, so the failed first attempt goes straight back to the wait list.
 */
export class BullMQAdapter implements Adapter {
  readonly name = 'bullmq';
  readonly store = 'redis' as const;
  readonly configuration =
    'Worker concurrency 32; defaults otherwise (completed jobs kept, no removeOnComplete); retry jobs added with attempts 2 and no backoff';
  private queue: Queue | null = null;
  private worker: Worker | null = null;

  async open(): Promise<void> {
    this.queue = new Queue(QUEUE, { connection });
    await this.queue.waitUntilReady();
  }

  async reset(): Promise<void> {
    const redis = new Redis(connection);
    await redis.flushdb();
    await redis.quit();
    if (!this.queue) await this.open();
  }

  private get q(): Queue {
    if (!this.queue) throw new Error('bullmq: open() first');
    return this.queue;
  }

  async enqueueMany(payloads: Payload[], options: EnqueueOptions = {}): Promise<void> {
    const opts = options.retryable ? { attempts: 2 } : undefined;
    await this.q.addBulk(payloads.map((data) => ({ name: 'noop', data, opts })));
  }

  async enqueueOne(data: Payload, options: EnqueueOptions = {}): Promise<void> {
    await this.q.add('noop', data, options.retryable ? { attempts: 2 } : undefined);
  }

  async analyze(): Promise<void> {}

  async startWorker(handler: JobHandler, concurrency: number): Promise<void> {
    this.worker = new Worker(
      QUEUE,
      async (job) => {
        const data = job.data as Payload;
        await handler({ i: data.i, attempt: job.attemptsMade + 1, kind: 'job' });
      },
      { connection, concurrency },
    );
    this.worker.on('error', () => {});
    await this.worker.waitUntilReady();
  }

  async stopWorker(): Promise<void> {
    await this.worker?.close();
    this.worker = null;
  }

  async countDone(): Promise<number> {
    const counts = await this.q.getJobCounts('completed');
    return counts.completed ?? 0;
  }

  async close(): Promise<void> {
    await this.stopWorker();
    await this.queue?.close();
    this.queue = null;
  }
}

export default BullMQAdapter;
