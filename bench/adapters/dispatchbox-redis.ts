import { Redis } from 'ioredis';
import type { CreateDispatchboxOptions } from '../../src/index.js';
import { NotAvailableError, REDIS_DB, REDIS_URL } from './adapter.js';
import { DispatchboxAdapter } from './dispatchbox.js';

/** Dispatchbox on Redis, in its own db index (9), emptied with FLUSHDB of that db only. */
export class DispatchboxRedis extends DispatchboxAdapter {
  readonly name: string = 'dispatchbox-redis';
  readonly store = 'redis' as const;

  protected options(): Promise<CreateDispatchboxOptions> {
    return Promise.resolve({ databaseUrl: REDIS_URL });
  }

  override async open(): Promise<void> {
    try {
      await super.open();
    } catch (error) {
      if (error instanceof NotAvailableError) throw error;
      throw new NotAvailableError(`the Redis store did not open: ${(error as Error).message}`);
    }
  }

  protected async wipe(): Promise<void> {
    const redis = new Redis({ host: '127.0.0.1', port: 6379, db: REDIS_DB, lazyConnect: true });
    await redis.connect();
    await redis.flushdb();
    await redis.quit();
  }

  async analyze(): Promise<void> {}
}

export default DispatchboxRedis;
