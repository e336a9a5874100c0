/**
 * An application compiled with `exactOptionalPropertyTypes` against the packed package's
 * types (test/readme.test.ts type-checks it, then runs it): every optional property of a
 * public options type accepts `undefined`, and `undefined` means "the default" at run time.
 * Not part of this project's own type-check: it imports the installed `dispatchbox`.
 */
import { createDispatchbox, PermanentError, TransientError } from 'dispatchbox';
import type {
  CreateBatchOptions,
  CreateDispatchboxOptions,
  HandlerOptions,
  OperatorOptions,
  RateLimitCallOptions,
  SendOptions,
  WorkerOptions,
} from 'dispatchbox';
import { startOperationsServer, type OperationsServerOptions } from 'dispatchbox/observability';
import { createPGliteBackend, type PGliteBackendOptions } from 'dispatchbox/pglite';
import type { PostgresBackendOptions } from 'dispatchbox/postgres';
import type { RedisBackendOptions } from 'dispatchbox/redis';
import { createMetrics, startStatsLine, type MetricsOptions } from 'dispatchbox/observability';
import { createTestBus, type SentFilter } from 'dispatchbox/testing';
import type { StoreConformanceOptions } from 'dispatchbox/testing/conformance';

const fromEnv = (name: string): string | undefined => process.env[name];

const open: CreateDispatchboxOptions = {
  databaseUrl: fromEnv('NO_SUCH_VARIABLE'),
  dataDir: 'memory',
  schema: undefined,
  migrate: undefined,
  logger: undefined,
  poolSize: undefined,
  connectTimeoutMs: undefined,
  strict: undefined,
  maxPayloadBytes: undefined,
  storeTimeoutMs: undefined,
  workerDefaults: undefined,
  handlerDefaults: { timeout: undefined, maxAttempts: undefined },
  tracing: undefined,
  env: undefined,
};
const handlerOptions: HandlerOptions = {
  schema: undefined,
  timeout: undefined,
  maxAttempts: undefined,
  backoff: { type: 'exponential', base: '10ms', max: '20ms', jitter: undefined },
  concurrency: undefined,
  transactional: undefined,
  rateLimit: { key: 'mail', limit: 100, per: '1s', burst: undefined },
  globalConcurrency: undefined,
};
const send: SendOptions = {
  id: undefined,
  idempotencyKey: undefined,
  priority: undefined,
  delay: undefined,
  runAt: undefined,
  maxAttempts: undefined,
  correlationId: undefined,
  causationId: undefined,
  headers: undefined,
  tx: undefined,
};
const work: WorkerOptions = {
  workerId: undefined,
  concurrency: undefined,
  domains: undefined,
  types: undefined,
  leaseMs: undefined,
  pollIntervalMs: 50,
  claimBatchSize: undefined,
  prefetch: undefined,
  shutdownTimeoutMs: undefined,
  maintenance: undefined,
  services: [
    { name: 'app-tidy', everyMs: 60_000, jitterMs: undefined, scope: 'store', run: async () => {} },
  ],
  maxUnwrittenOutcomes: undefined,
  retentionMs: undefined,
  registration: { refreshMs: undefined, staleAfterMs: undefined, forgetAfterMs: undefined },
  random: undefined,
};
const operator: OperatorOptions = { actor: undefined, reason: undefined };
const rate: RateLimitCallOptions = { wait: undefined, burst: undefined };
const pglite: PGliteBackendOptions = { dataDir: undefined, db: undefined, schema: undefined };
const postgres: PostgresBackendOptions = {
  connectionString: 'postgres://127.0.0.1/none',
  schema: undefined,
  connectTimeoutMs: undefined,
};
const redis: RedisBackendOptions = {
  url: 'redis://127.0.0.1:6379',
  prefix: undefined,
  connectTimeoutMs: undefined,
  onError: undefined,
};
const metricsOptions: MetricsOptions = {
  registry: undefined,
  processMetrics: undefined,
  queueGauges: undefined,
};
const filter: SentFilter = { domain: undefined, type: undefined, state: undefined };
// Types only: the suite itself registers vitest tests, and this is no test file.
const conformance: StoreConformanceOptions = {
  name: 'a store of our own',
  open: () => createPGliteBackend(pglite),
  cleanup: undefined,
  roles: undefined,
  sql: undefined,
  transaction: undefined,
  outage: undefined,
  timeoutMs: undefined,
};

const operations: OperationsServerOptions = {
  port: 0,
  host: '127.0.0.1',
  metrics: undefined,
  logger: undefined,
  mount: undefined,
  storeCheckTimeoutMs: undefined,
};

const bus = await createDispatchbox(open);
const server = await startOperationsServer(bus, operations);
const ready = (await fetch(`${server.url}/ready`)).status;
await server.close();
let runs = 0;
bus.handle<{ n: number }>('mail', 'send', handlerOptions, async (data, ctx) => {
  if (data.n === 2)
    throw new PermanentError('no such mailbox', {
      code: undefined,
      details: undefined,
      cause: undefined,
    });
  if (runs++ === 0) throw new TransientError('busy', { code: undefined });
  await ctx.rateLimit('mail', rate);
  return { n: data.n };
});
const first = await bus.send('mail', 'send', { n: 1 }, send);
const failing = await bus.send('mail', 'send', { n: 2 }, send);
const batchOptions: CreateBatchOptions = {
  name: undefined,
  id: undefined,
  commands: [{ domain: 'mail', type: 'send', data: { n: 3 }, priority: undefined }],
  onComplete: undefined,
};
await bus.createBatch(batchOptions);
const metrics = createMetrics(bus, metricsOptions);
const worker = bus.worker(work);
metrics.observeWorker(worker);
const stopStats = startStatsLine(bus, worker, { intervalMs: 60_000, logger: bus.logger });
await worker.start();
while ((await bus.countByState()).pending + (await bus.countByState()).in_progress > 0) {
  await new Promise((resolve) => setTimeout(resolve, 20));
}
await worker.stop();
stopStats();
const exposition = await metrics.text();
metrics.close();
const listed = await bus.list({ state: undefined, domain: undefined, limit: undefined });
await bus.retry(failing.id, operator);
await bus.cancel(failing.id, operator);
const states = (await Promise.all([first.id, failing.id].map((id) => bus.get(id)))).map(
  (c) => c.state,
);
await bus.close();

const backend = await createPGliteBackend(pglite);
await backend.migrate();
const counted = await backend.admin.countCommands({ domain: undefined });
await backend.close();
const testBus = await createTestBus({ logger: undefined, strict: undefined });
await testBus.bus.send('mail', 'send', {});
const sent = await testBus.sent(filter);
await testBus.close();
void postgres;
void counted;
void redis;
void conformance;

const completedRuns =
  /^dispatchbox_commands_processed_total\{[^}]*outcome="completed"[^}]*\} (\d+)$/m;
console.log(
  JSON.stringify({
    listed: listed.length,
    states,
    sent: sent.length,
    ready,
    completed: Number(completedRuns.exec(exposition)?.[1]),
  }),
);
