import type * as Dispatchbox from '../../src/index.js';
import type {
  CommandBus,
  CreateDispatchboxOptions,
  HandlerContext,
  Worker,
} from '../../src/index.js';
import type { Adapter, EnqueueOptions, JobHandler, Payload, Store } from './adapter.js';
import { payload } from './adapter.js';

export const DOMAIN = 'bench';
const TYPE = 'noop';
const BATCH_DONE = 'batch-done';

/**
 * Dispatchbox through its public API, on any of its stores, with its default settings
 * (audit trail on, completed commands kept for the default retention). The only handler
 * option set is the retry workload's "no backoff" (`backoff: fixed 0`).
 */
export abstract class DispatchboxAdapter implements Adapter {
  abstract readonly name: string;
  abstract readonly store: Store;
  readonly configuration =
    'defaults (audit trail on, completed commands retained 7 days); worker concurrency 32 (claims of up to 500 on the SQL stores and 100 on Redis, into a buffer of about 25 ms of throughput, by default); retry handler registered with backoff fixed 0';
  protected bus: CommandBus | null = null;
  private worker: Worker | null = null;

  /** Options for createDispatchbox on this store. */
  protected abstract options(): Promise<CreateDispatchboxOptions>;
  /** Empties this store's data (called with the bus closed). */
  protected abstract wipe(): Promise<void>;
  abstract analyze(): Promise<void>;

  async open(): Promise<void> {
    // `--at <commit>` points this at a snapshot of the source, so that a long run measures one version.
    const entry = process.env.BENCH_DISPATCHBOX_ENTRY ?? '../../src/index.js';
    const { createDispatchbox } = (await import(entry)) as typeof Dispatchbox;
    this.bus = await createDispatchbox({ ...(await this.options()), migrate: true });
  }

  protected get openBus(): CommandBus {
    if (!this.bus) throw new Error(`${this.name}: open() first`);
    return this.bus;
  }

  async reset(): Promise<void> {
    await this.bus?.close();
    this.bus = null;
    await this.wipe();
    await this.open();
  }

  async enqueueMany(payloads: Payload[], _options?: EnqueueOptions): Promise<void> {
    await this.openBus.sendMany(payloads.map((data) => ({ domain: DOMAIN, type: TYPE, data })));
  }

  async enqueueOne(data: Payload, _options?: EnqueueOptions): Promise<void> {
    await this.openBus.send(DOMAIN, TYPE, data);
  }

  async startWorker(handler: JobHandler, concurrency: number): Promise<void> {
    const bus = this.openBus;
    if (!bus.registry.get(DOMAIN, TYPE)) {
      bus.handle(
        DOMAIN,
        TYPE,
        { backoff: { type: 'fixed', delay: 0 } },
        (data: Payload, ctx: HandlerContext) =>
          handler({ i: data.i, attempt: ctx.attempt, kind: 'job' }),
      );
      bus.handle(DOMAIN, BATCH_DONE, () => handler({ i: -1, attempt: 1, kind: 'batch-done' }));
    }
    this.worker = await bus.worker({ concurrency }).start();
  }

  async stopWorker(): Promise<void> {
    await this.worker?.stop();
    this.worker = null;
  }

  async countDone(): Promise<number> {
    const counts = await this.openBus.countByState(DOMAIN);
    return counts.completed;
  }

  async createBatch(count: number): Promise<void> {
    function* commands() {
      for (let i = 0; i < count; i++) yield { domain: DOMAIN, type: TYPE, data: payload(i) };
    }
    await this.openBus.createBatch({
      name: 'bench',
      commands: commands(),
      onComplete: { domain: DOMAIN, type: BATCH_DONE },
    });
  }

  async close(): Promise<void> {
    await this.stopWorker();
    await this.bus?.close();
    this.bus = null;
  }
}
