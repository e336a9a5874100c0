import type { Redis } from 'ioredis';
import type {
  AcquireSlotParams,
  ReleaseSlotParams,
  TakeTokenParams,
  TakeTokenResult,
} from '../backend.js';
import { toStoreError } from './errors.js';
import type { GlobalKeys } from './keys.js';
import { runScript } from './scripts/runner.js';

/** Rate limits and concurrency caps shared by every worker of the store (scripts/limits.ts). */
export class RedisLimits {
  constructor(
    private readonly client: Redis,
    private readonly keys: GlobalKeys,
  ) {}

  async takeToken(params: TakeTokenParams): Promise<TakeTokenResult> {
    try {
      const [granted, retryAfterMs] = (await runScript(
        this.client,
        'takeToken',
        [this.keys.bucket(params.key)],
        [params.capacity, params.perMs / params.limit],
      )) as [number, number];
      return { granted: granted === 1, retryAfterMs };
    } catch (error) {
      throw toStoreError(error, `taking a token of rate limit ${params.key}`);
    }
  }

  async acquireSlot(params: AcquireSlotParams): Promise<boolean> {
    try {
      const got = await runScript(
        this.client,
        'acquireSlot',
        [this.keys.slots(params.key)],
        [params.limit, params.holder, params.leaseMs],
      );
      return got === 1;
    } catch (error) {
      throw toStoreError(error, `acquiring a slot of concurrency cap ${params.key}`);
    }
  }

  async releaseSlot(params: ReleaseSlotParams): Promise<void> {
    try {
      await this.client.zrem(this.keys.slots(params.key), params.holder);
    } catch (error) {
      throw toStoreError(error, `releasing a slot of concurrency cap ${params.key}`);
    }
  }
}
