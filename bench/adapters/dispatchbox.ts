import { setTimeout as sleep } from 'node:timers/promises';
import type * as Dispatchbox from '../../src/index.js';
import type {
  CommandBus,
  CreateDispatchboxOptions,
  HandlerContext,
  Worker,
} from '../../src/index.js';
import type { RateLimitedArgs, RateLimitedResult } from '../protocol.js';
import type { Adapter, EnqueueOptions, JobHandler, Payload, Store } from './adapter.js';
import { payload } from './adapter.js';
import { observe, type Observability } from './dispatchbox-observability.js';

export const DOMAIN = 'bench';
const TYPE = 'noop';
const BATCH_DONE = 'batch-done';
const UNRELATED = 'unrelated';
const LIMITED = 'limited';

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
  /** The variants of a system turn metrics and tracing on or off (dispatchbox-observability.ts). */
  protected readonly observability: Observability = 'default';
  private stopObserving: (() => void) | null = null;

  /** Options for createDispatchbox on this store. */
  protected abstract options(): Promise<CreateDispatchboxOptions>;
  /** Empties this store's data (called with the bus closed). */
  protected abstract wipe(): Promise<void>;
  abstract analyze(): Promise<void>;

  async open(): Promise<void> {
    // `--at <commit>` points this at a snapshot of the source, so that a long run measures one version.
    const entry = process.env.BENCH_DISPATCHBOX_ENTRY ?? '../../src/index.js';
    const { createDispatchbox } = (await import(entry)) as typeof Dispatchbox;
    this.bus = await createDispatchbox({
      ...(await this.options()),
      migrate: true,
      ...(this.observability === 'dark' ? { tracing: false } : {}),
    });
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
    const worker = bus.worker({ concurrency });
    if (this.observability === 'observed') this.stopObserving = await observe(bus, worker);
    this.worker = await worker.start();
  }

  async stopWorker(): Promise<void> {
    await this.worker?.stop();
    this.worker = null;
    this.stopObserving?.();
    this.stopObserving = null;
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

  /**
   * Three rounds of: the unrelated commands alone, then beside the limited ones, each
   * round in a domain (and on a bucket) of its own, so that nothing is left over from the
   * round before. Alone and beside alternate, so that a burst of load on the machine hits
   * both; the medians are reported.
   */
  async rateLimitedMix(a: RateLimitedArgs): Promise<RateLimitedResult> {
    const bus = this.openBus;
    const tally = { unrelated: 0, limited: 0, expected: 0, allDone: () => {} };
    const send = async (domain: string, type: string, count: number) => {
      for (let from = 0; from < count; from += 1000) {
        const n = Math.min(1000, count - from);
        await bus.sendMany(
          Array.from({ length: n }, (_, i) => ({ domain, type, data: payload(from + i) })),
        );
      }
    };
    const phase = async (domain: string, limited: number) => {
      await send(domain, LIMITED, limited);
      await send(domain, UNRELATED, a.unrelated);
      Object.assign(tally, { unrelated: 0, limited: 0, expected: a.unrelated });
      const allDone = new Promise<void>((resolve) => (tally.allDone = resolve));
      const workers = await Promise.all(
        Array.from({ length: a.workers }, () =>
          bus.worker({ concurrency: a.concurrency, domains: [domain] }).start(),
        ),
      );
      const startedAt = performance.now();
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          allDone,
          new Promise((_, reject) => {
            timer = setTimeout(
              () => reject(new Error(`unrelated commands not done in ${a.timeoutMs} ms`)),
              a.timeoutMs,
            );
          }),
        ]);
      } finally {
        clearTimeout(timer);
      }
      const ms = performance.now() - startedAt;
      const granted = tally.limited;
      const refusals = workers.reduce((sum, w) => sum + w.stats.released, 0);
      await Promise.all(workers.map((w) => w.stop()));
      return { ms, granted, refusals };
    };
    const alone: number[] = [];
    const beside: { ms: number; granted: number; refusals: number }[] = [];
    for (let round = 0; round < 3; round++) {
      const domain = `${DOMAIN}-limits-${round}`;
      // Unrelated handlers wait 20 ms, like a call to another service: the rate is then
      // the workers' steady state (3 × 32 / 20 ms = 4,800/s at most), not their start.
      bus.handle(domain, UNRELATED, async () => {
        await sleep(20);
        if (++tally.unrelated === tally.expected) tally.allDone();
      });
      bus.handle(
        domain,
        LIMITED,
        { rateLimit: { key: `bench-limited-${round}`, limit: a.limitPerSecond, per: '1s' } },
        () => {
          tally.limited++;
        },
      );
      alone.push((await phase(domain, 0)).ms);
      beside.push(await phase(`${domain}`, a.limited));
    }
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
    const sum = (f: (b: (typeof beside)[number]) => number) => beside.reduce((n, b) => n + f(b), 0);
    return {
      aloneRate: a.unrelated / (median(alone) / 1000),
      besideRate: a.unrelated / (median(beside.map((b) => b.ms)) / 1000),
      granted: sum((b) => b.granted),
      refusals: sum((b) => b.refusals),
      besideMs: sum((b) => b.ms),
    };
  }

  async close(): Promise<void> {
    await this.stopWorker();
    await this.bus?.close();
    this.bus = null;
  }
}
