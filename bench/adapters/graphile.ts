import {
  makeWorkerUtils,
  run,
  runMigrations,
  type Runner,
  type WorkerUtils,
} from 'graphile-worker';
import type pg from 'pg';
import type { Adapter, EnqueueOptions, JobHandler, Payload } from './adapter.js';
import { PG_URL } from './adapter.js';
import { analyzeSchema, benchPool, countRows, dropSchema } from './sql-tools.js';

const SCHEMA = 'graphile_worker';
const TASK = 'noop';

/**
 * Graphile Worker on PostgreSQL in the configuration of its performance page (local
 * queue, batched completion and failure), with concurrency 32 and a pool of
 * concurrency + 2. Completed jobs are deleted, as Graphile Worker always does. It has no
 * "no backoff" setting: a failed attempt waits exp(1) = 2.7 s before the retry.
 */
export class GraphileAdapter implements Adapter {
  readonly name = 'graphile';
  readonly store = 'postgres' as const;
  readonly configuration =
    'concurrentJobs 32, maxPoolSize 34, localQueue { size: 500 }, completeJobBatchDelay 0, failJobBatchDelay 0, useNodeTime true; completed jobs are deleted (its design); retries wait its fixed exp(attempts) s backoff (2.7 s), which cannot be turned off';
  private utils: WorkerUtils | null = null;
  private runner: Runner | null = null;
  private admin: pg.Pool | null = null;
  private total = 0;

  private async pool(): Promise<pg.Pool> {
    this.admin ??= await benchPool();
    return this.admin;
  }

  async open(): Promise<void> {
    await this.pool();
    await runMigrations({ connectionString: PG_URL, schema: SCHEMA });
    this.utils = await makeWorkerUtils({ connectionString: PG_URL, schema: SCHEMA });
  }

  async reset(): Promise<void> {
    await this.utils?.release();
    this.utils = null;
    await dropSchema(await this.pool(), SCHEMA);
    await this.open();
  }

  private get u(): WorkerUtils {
    if (!this.utils) throw new Error('graphile: open() first');
    return this.utils;
  }

  async enqueueMany(payloads: Payload[], _options?: EnqueueOptions): Promise<void> {
    await this.u.addJobs(payloads.map((payload) => ({ identifier: TASK, payload })));
  }

  async enqueueOne(payload: Payload, _options?: EnqueueOptions): Promise<void> {
    await this.u.addJob(TASK, payload);
  }

  async analyze(): Promise<void> {
    await analyzeSchema(await this.pool(), `${SCHEMA}`);
  }

  async startWorker(handler: JobHandler, concurrency: number): Promise<void> {
    // Completed jobs are deleted, so "done" is counted as the jobs that were there minus those left.
    this.total = await this.remaining();
    this.runner = await run({
      connectionString: PG_URL,
      schema: SCHEMA,
      concurrency,
      maxPoolSize: concurrency + 2,
      noHandleSignals: true,
      useNodeTime: true,
      crontab: '',
      taskList: {
        [TASK]: async (payload, helpers) => {
          await handler({ i: (payload as Payload).i, attempt: helpers.job.attempts, kind: 'job' });
        },
      },
      preset: {
        worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 },
      },
    });
  }

  async stopWorker(): Promise<void> {
    await this.runner?.stop();
    this.runner = null;
  }

  private async remaining(): Promise<number> {
    return countRows(await this.pool(), `SELECT count(*) AS n FROM "${SCHEMA}"._private_jobs`);
  }

  async countDone(): Promise<number> {
    return this.total - (await this.remaining());
  }

  async close(): Promise<void> {
    await this.stopWorker();
    await this.utils?.release();
    this.utils = null;
    await this.admin?.end();
    this.admin = null;
  }
}

export default GraphileAdapter;
