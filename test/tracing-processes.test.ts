/**
 * One trace across two processes: a child process with an OpenTelemetry SDK of its own
 * sends a command to PostgreSQL inside a span and prints its finished spans; this process,
 * with its own SDK, handles the command. The attempt's span must be in the sender's trace,
 * a child of the sender's producer span, its context read from the command's headers.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDispatchbox, type CommandBus, type Worker } from '../src/index.js';
import {
  installSdk,
  only,
  outcome,
  removeSdk,
  type InstalledSdk,
  type SpanRecord,
} from './fixtures/tracing-sdk.js';
import { dropSchema, uniqueSchema } from './helpers/postgres.js';
import { POSTGRES_URL, requireServer } from './helpers/servers.js';

const run = promisify(execFile);

const postgres = await requireServer('PostgreSQL (two-process trace)', 5432);

describe.runIf(postgres)('one trace across two processes, through PostgreSQL', () => {
  const schema = uniqueSchema('trace');
  const domain = `xp-${randomUUID().slice(0, 8)}`;
  let sdk: InstalledSdk;
  let bus: CommandBus;
  let worker: Worker;

  beforeAll(async () => {
    sdk = installSdk();
    bus = await createDispatchbox({
      databaseUrl: POSTGRES_URL,
      schema,
      migrate: true,
      logger: pino({ level: 'warn' }),
      env: {},
    });
    bus.handle(domain, 'Pay', () => 'paid');
  });

  afterAll(async () => {
    await worker?.stop();
    await bus?.close();
    await dropSchema(POSTGRES_URL, schema);
    await removeSdk(sdk);
  });

  it('the command sent by another process and handled here: same trace, the consumer a child of its producer', async () => {
    const sender = fileURLToPath(new URL('./fixtures/trace-sender.ts', import.meta.url));
    const { stdout } = await run(process.execPath, ['--import', 'tsx', sender], {
      env: {
        ...process.env,
        DISPATCHBOX_TRACE_SENDER: JSON.stringify({
          databaseUrl: POSTGRES_URL,
          schema,
          domain,
          type: 'Pay',
        }),
      },
      timeout: 60_000,
    });
    const sent = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
      commandId: string;
      spans: SpanRecord[];
    };
    const producer = sent.spans.find((s) => s.kind === 'producer');
    const root = sent.spans.find((s) => s.name === 'place order');
    expect(producer?.name).toBe(`send ${domain}.Pay`);
    expect(producer?.parentSpanId).toBe(root?.spanId);

    worker = bus.worker({ pollIntervalMs: 50 });
    const done = outcome(worker, 'completed', () => sent.commandId);
    await worker.start();
    await done;
    const consumer = only(sdk.exporter.getFinishedSpans(), `process ${domain}.Pay`);
    expect(consumer.spanContext().traceId).toBe(producer!.traceId);
    expect(consumer.parentSpanContext?.spanId).toBe(producer!.spanId);
    expect(consumer.parentSpanContext?.isRemote).toBe(true);
    expect(consumer.attributes['messaging.message.id']).toBe(sent.commandId);
  });
});
