import { PgBoss, type ConstructorOptions, type Job, type JobResult } from 'pg-boss';
import type { Adapter, EnqueueOptions, JobHandler, Payload, Store } from './adapter.js';
import { analyzeSchema, countRows, dropSchema, type SqlClient } from './sql-tools.js';

const QUEUE = 'bench';
export const PGBOSS_SCHEMA = 'pgboss';

/**
 * pg-boss in its throughput configuration: LISTEN/NOTIFY on (instance `useListenNotify`,
 * queue `notify`), one batch handler that fetches 32 jobs at a time and runs them at once
 * (32 in flight), and `burstWhenBatchFull` so a full batch is followed by the next fetch
 * at once instead of the polling interval. Retries: the default `retryLimit` 2 and
 * `retryDelay` 0 (no backoff); the retry workload settles each job on its own
 * (`perJobResults`), failing first attempts.
 */
export abstract class PgBossAdapter implements Adapter {
  abstract readonly name: string;
  abstract readonly store: Store;
  readonly configuration =
    'useListenNotify: true, queue notify: true; work({ batchSize: 32, localConcurrency: 1, burstWhenBatchFull: true, notifyPollingIntervalSeconds: 2 }) with the 32 jobs of a batch run at once; defaults otherwise (completed jobs kept 7 days, retryLimit 2, retryDelay 0); retry workload: perJobResults: true';
  protected boss: PgBoss | null = null;
  private workerId: string | null = null;

  /** Constructor options for this store (connection or `db`). */
  protected abstract connection(): Promise<
    Pick<ConstructorOptions, 'connectionString' | 'db' | 'backend'>
  >;
  /** SQL on this store, for resets, ANALYZE and counts. */
  protected abstract sql(): Promise<SqlClient>;

  async open(): Promise<void> {
    const boss = new PgBoss({
      ...(await this.connection()),
      schema: PGBOSS_SCHEMA,
      useListenNotify: true,
    });
    boss.on('error', () => {});
    await boss.start();
    if (!(await boss.getQueue(QUEUE))) await boss.createQueue(QUEUE, { notify: true });
    this.boss = boss;
  }

  async reset(): Promise<void> {
    await this.boss?.stop({ graceful: false, close: false });
    this.boss = null;
    await dropSchema(await this.sql(), PGBOSS_SCHEMA);
    await this.open();
  }

  private get b(): PgBoss {
    if (!this.boss) throw new Error(`${this.name}: open() first`);
    return this.boss;
  }

  async enqueueMany(payloads: Payload[], _options?: EnqueueOptions): Promise<void> {
    await this.b.insert(
      QUEUE,
      payloads.map((data) => ({ data })),
    );
  }

  async enqueueOne(data: Payload, _options?: EnqueueOptions): Promise<void> {
    await this.b.send(QUEUE, data);
  }

  async analyze(): Promise<void> {
    await analyzeSchema(await this.sql(), PGBOSS_SCHEMA);
  }

  async startWorker(
    handler: JobHandler,
    concurrency: number,
    { retrying = false } = {},
  ): Promise<void> {
    // notifyPollingIntervalSeconds: jobs put back for a retry send no NOTIFY, so they wait for
    // this backstop poll; 2 s is pg-boss's own polling default (its notify-mode default is 30 s).
    const base = {
      batchSize: concurrency,
      localConcurrency: 1,
      burstWhenBatchFull: true,
      notifyPollingIntervalSeconds: 2,
    } as const;
    const run = (job: Job<Payload>) =>
      handler({ i: job.data.i, attempt: job.retryCount + 1, kind: 'job' });
    if (retrying) {
      this.workerId = await this.b.work<Payload>(
        QUEUE,
        { ...base, perJobResults: true },
        async (jobs) =>
          Promise.all(
            jobs.map(async (job): Promise<JobResult> => {
              try {
                await run(job);
                return { id: job.id, status: 'completed' };
              } catch {
                return { id: job.id, status: 'failed' };
              }
            }),
          ),
      );
    } else {
      this.workerId = await this.b.work<Payload>(QUEUE, base, async (jobs) => {
        await Promise.all(jobs.map(run));
      });
    }
  }

  async stopWorker(): Promise<void> {
    if (this.workerId && this.boss)
      await this.boss.offWork(QUEUE, { id: this.workerId, wait: true });
    this.workerId = null;
  }

  async countDone(): Promise<number> {
    return countRows(
      await this.sql(),
      `SELECT count(*) AS n FROM "${PGBOSS_SCHEMA}".job WHERE name = $1 AND state = 'completed'`,
      [QUEUE],
    );
  }

  async close(): Promise<void> {
    await this.stopWorker();
    await this.boss?.stop({ graceful: true, close: true, timeout: 5000 });
    this.boss = null;
  }
}
