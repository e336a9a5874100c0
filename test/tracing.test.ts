/**
 * OpenTelemetry tracing with the SDK's in-memory exporter: a send makes a PRODUCER span
 * whose context the command carries in its headers, each attempt a CONSUMER span whose
 * parent is that producer, with the messaging conventions' attributes; the handler's own
 * spans nest inside, failures are recorded, follow-ups continue the trace (across two
 * processes: tracing-processes.test.ts). With tracing off, or no SDK installed, no span
 * is made and no header added. Every log line about a command carries its id, type,
 * attempt, correlation id and trace id.
 */
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Backend } from '../src/backends/backend.js';
import { createPGliteBackend } from '../src/backends/pglite/index.js';
import { CommandBus, createDispatchbox, PermanentError, type Worker } from '../src/index.js';
import {
  installSdk,
  only,
  outcome,
  outcomes,
  removeSdk,
  type InstalledSdk,
} from './fixtures/tracing-sdk.js';

/** Log lines as objects, as pino writes them. */
function captureLogs(): { lines: Record<string, unknown>[]; stream: Writable } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n'))
        if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, stream };
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/;

function spanIdsOf(traceparent: string | undefined): { traceId: string; spanId: string } {
  const match = TRACEPARENT.exec(traceparent ?? '');
  if (!match) throw new Error(`not a traceparent: ${traceparent}`);
  return { traceId: match[1]!, spanId: match[2]! };
}

/** One embedded store for the buses of this file (each in domains of its own). */
let embedded: Backend;

beforeAll(async () => {
  embedded = await createPGliteBackend({});
  await embedded.migrate();
});

afterAll(async () => {
  await embedded?.close();
});

describe('tracing with an SDK installed, on the embedded store', () => {
  const domain = `tr-${randomUUID().slice(0, 8)}`;
  let sdk: InstalledSdk;
  let bus: CommandBus;
  let worker: Worker;
  const logs = captureLogs();
  const app = () => trace.getTracer('app');

  beforeAll(async () => {
    sdk = installSdk();
    bus = new CommandBus({ backend: embedded, logger: pino({ level: 'info' }, logs.stream) });
    bus.handle(domain, 'Charge', (_data, ctx) => {
      // the handler's own span, started in the active context
      app().startSpan('charge card').end();
      ctx.logger.info('charging');
      return { ok: true };
    });
    bus.handle(domain, 'Refuse', () => {
      throw new PermanentError('card refused', { code: 'CARD_REFUSED' });
    });
    let calls = 0;
    bus.handle(
      domain,
      'Flaky',
      { maxAttempts: 3, backoff: { type: 'fixed', delay: '1ms' } },
      () => {
        if (++calls === 1) throw new Error('first attempt fails');
        return 'ok';
      },
    );
    bus.handle(domain, 'Order', async (_data, ctx) => {
      await app().startActiveSpan('reserve stock', async (span) => {
        await ctx.send(domain, 'Ship', {});
        span.end();
      });
    });
    bus.handle(domain, 'Ship', () => 'shipped');
    bus.handle(domain, 'Member', () => null);
    bus.handle(domain, 'Done', () => null);
    worker = await bus.worker({ concurrency: 4, pollIntervalMs: 50 }).start();
  });

  afterAll(async () => {
    await worker?.stop();
    await removeSdk(sdk);
  });

  beforeEach(() => {
    sdk.exporter.reset();
    logs.lines.length = 0;
  });

  it('a send and its attempt make one trace: producer, consumer as its child, the handler span inside', async () => {
    let id = '';
    const done = outcome(worker, 'completed', () => id);
    const command = await app().startActiveSpan('http request', async (request) => {
      const sent = await bus.send(domain, 'Charge', { amount: 5 }, { correlationId: 'order-7' });
      request.end();
      return sent;
    });
    id = command.id;
    await done;
    const spans = sdk.exporter.getFinishedSpans();
    const request = only(spans, 'http request');
    const producer = only(spans, `send ${domain}.Charge`);
    const consumer = only(spans, `process ${domain}.Charge`);
    const inner = only(spans, 'charge card');

    expect(producer.kind).toBe(SpanKind.PRODUCER);
    expect(producer.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
    expect(producer.attributes).toMatchObject({
      'messaging.system': 'dispatchbox',
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'send',
      'messaging.destination.name': domain,
      'messaging.message.id': command.id,
      'messaging.message.conversation_id': 'order-7',
      'dispatchbox.command.type': 'Charge',
    });
    // the stored command carries the producer's context
    const stored = spanIdsOf(command.headers.traceparent);
    expect(stored).toEqual({
      traceId: producer.spanContext().traceId,
      spanId: producer.spanContext().spanId,
    });
    expect((await bus.get(command.id)).headers.traceparent).toBe(command.headers.traceparent);

    expect(consumer.kind).toBe(SpanKind.CONSUMER);
    expect(consumer.spanContext().traceId).toBe(producer.spanContext().traceId);
    expect(consumer.parentSpanContext?.spanId).toBe(producer.spanContext().spanId);
    expect(consumer.links.map((l) => l.context.spanId)).toEqual([producer.spanContext().spanId]);
    expect(consumer.attributes).toMatchObject({
      'messaging.system': 'dispatchbox',
      'messaging.operation.type': 'process',
      'messaging.operation.name': 'process',
      'messaging.destination.name': domain,
      'messaging.message.id': command.id,
      'messaging.message.conversation_id': 'order-7',
      'dispatchbox.command.type': 'Charge',
      'dispatchbox.attempt': 1,
      'dispatchbox.outcome': 'completed',
    });
    expect(consumer.status.code).toBe(SpanStatusCode.UNSET);
    expect(inner.parentSpanContext?.spanId).toBe(consumer.spanContext().spanId);
    expect(inner.spanContext().traceId).toBe(producer.spanContext().traceId);

    // the handler's log line carries the command and its trace
    const line = logs.lines.find((l) => l.msg === 'charging');
    expect(line).toMatchObject({
      commandId: command.id,
      domain,
      type: 'Charge',
      attempt: 1,
      correlationId: 'order-7',
      traceId: consumer.spanContext().traceId,
    });
  });

  it('a failure is recorded on the attempt: status ERROR, the exception, its code', async () => {
    let id = '';
    const done = outcome(worker, 'troubleshooting', () => id);
    id = (await bus.send(domain, 'Refuse', {})).id;
    await done;
    const consumer = only(sdk.exporter.getFinishedSpans(), `process ${domain}.Refuse`);
    expect(consumer.status).toEqual({ code: SpanStatusCode.ERROR, message: 'card refused' });
    expect(consumer.attributes).toMatchObject({
      'dispatchbox.outcome': 'troubleshooting',
      'error.type': 'CARD_REFUSED',
    });
    expect(consumer.events.map((e) => [e.name, e.attributes?.['exception.message']])).toEqual([
      ['exception', 'card refused'],
    ]);
    // the worker's own line about the failure carries the command's fields and trace
    const line = logs.lines.find((l) => l.msg === 'handler failed');
    expect(line).toMatchObject({
      commandId: id,
      domain,
      type: 'Refuse',
      attempt: 1,
      traceId: consumer.spanContext().traceId,
    });
    expect(line).toHaveProperty('correlationId');
  });

  it('a retried attempt is an error with outcome retry; the next attempt is a sibling under the producer', async () => {
    let id = '';
    const done = outcome(worker, 'completed', () => id);
    id = (await bus.send(domain, 'Flaky', {})).id;
    await done;
    const spans = sdk.exporter.getFinishedSpans();
    const producer = only(spans, `send ${domain}.Flaky`);
    const attempts = spans.filter((s) => s.name === `process ${domain}.Flaky`);
    expect(
      attempts.map((s) => [
        s.attributes['dispatchbox.attempt'],
        s.attributes['dispatchbox.outcome'],
        s.status.code,
      ]),
    ).toEqual([
      [1, 'retry', SpanStatusCode.ERROR],
      [2, 'completed', SpanStatusCode.UNSET],
    ]);
    for (const attempt of attempts)
      expect(attempt.parentSpanContext?.spanId).toBe(producer.spanContext().spanId);
  });

  it("a follow-up sent by a handler continues the trace from the active span, not the command's traceparent", async () => {
    const shipped = outcomes(worker, 'completed', (e) => e.type === 'Ship');
    const order = await bus.send(domain, 'Order', {});
    await shipped;
    const spans = sdk.exporter.getFinishedSpans();
    const orderProcess = only(spans, `process ${domain}.Order`);
    const reserve = only(spans, 'reserve stock');
    const shipSend = only(spans, `send ${domain}.Ship`);
    const shipProcess = only(spans, `process ${domain}.Ship`);
    const traceId = spanIdsOf(order.headers.traceparent).traceId;
    for (const span of [orderProcess, reserve, shipSend, shipProcess])
      expect(span.spanContext().traceId).toBe(traceId);
    expect(reserve.parentSpanContext?.spanId).toBe(orderProcess.spanContext().spanId);
    expect(shipSend.parentSpanContext?.spanId).toBe(reserve.spanContext().spanId);
    expect(shipProcess.parentSpanContext?.spanId).toBe(shipSend.spanContext().spanId);
    const [ship] = await bus.list({ domain, type: 'Ship' });
    if (!ship) throw new Error('the follow-up was not stored');
    expect(spanIdsOf(ship.headers.traceparent).spanId).toBe(shipSend.spanContext().spanId);
    expect(ship.causationId).toBe(order.id);
  });

  it('a traceparent the sender gives is kept, and the attempt is its child', async () => {
    const given = `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`;
    let id = '';
    const done = outcome(worker, 'completed', () => id);
    const command = await bus.send(domain, 'Charge', {}, { headers: { traceparent: given } });
    id = command.id;
    await done;
    expect(command.headers).toEqual({ traceparent: given });
    const consumer = only(sdk.exporter.getFinishedSpans(), `process ${domain}.Charge`);
    expect(consumer.spanContext().traceId).toBe('a'.repeat(32));
    expect(consumer.parentSpanContext?.spanId).toBe('b'.repeat(16));
  });

  it('sendMany makes one producer span for the call, whose context every command carries', async () => {
    const handled = outcomes(worker, 'completed', (e) => e.type === 'Member', 3);
    const sent = await bus.sendMany(
      Array.from({ length: 3 }, (_, i) => ({
        domain,
        type: 'Member',
        data: { i },
        headers: i === 0 ? { 'x-tenant': 'acme' } : undefined,
      })),
    );
    await handled;
    const spans = sdk.exporter.getFinishedSpans();
    const producer = only(spans, `send ${domain}.Member`);
    expect(producer.attributes['messaging.batch.message_count']).toBe(3);
    for (const command of sent)
      expect(spanIdsOf(command.headers.traceparent).spanId).toBe(producer.spanContext().spanId);
    expect(sent[0]!.headers['x-tenant']).toBe('acme');
    const consumers = spans.filter((s) => s.name === `process ${domain}.Member`);
    expect(consumers).toHaveLength(3);
    for (const consumer of consumers)
      expect(consumer.parentSpanContext?.spanId).toBe(producer.spanContext().spanId);
  });

  it('a batch makes one producer span, carried by its commands and its completion command', async () => {
    const done = outcomes(worker, 'completed', (e) => e.type === 'Done');
    const batch = await bus.createBatch({
      commands: [1, 2].map((i) => ({ domain, type: 'Member', data: { i } })),
      onComplete: { domain, type: 'Done' },
    });
    await done;
    const spans = sdk.exporter.getFinishedSpans();
    const producer = only(spans, 'send batch');
    expect(producer.attributes).toMatchObject({
      'dispatchbox.batch.id': batch.id,
      'messaging.batch.message_count': 2,
    });
    const processes = spans.filter((s) => s.name.startsWith(`process ${domain}.`));
    expect(processes.map((s) => s.name).sort()).toEqual(
      [`process ${domain}.Done`, `process ${domain}.Member`, `process ${domain}.Member`].sort(),
    );
    for (const span of processes)
      expect(span.parentSpanContext?.spanId).toBe(producer.spanContext().spanId);
  });
});

describe('tracing turned off, with an SDK installed', () => {
  const domain = `off-${randomUUID().slice(0, 8)}`;
  let sdk: InstalledSdk;
  let bus: CommandBus;
  let worker: Worker;

  beforeAll(async () => {
    sdk = installSdk();
    // as DISPATCHBOX_TRACING=false sets it
    bus = await createDispatchbox({
      dataDir: 'memory',
      logger: pino({ level: 'silent' }),
      env: { DISPATCHBOX_TRACING: 'false' },
    });
    bus.handle(domain, 'T', () => null);
    worker = await bus.worker({ pollIntervalMs: 50 }).start();
  });

  afterAll(async () => {
    await worker?.stop();
    await bus?.close();
    await removeSdk(sdk);
  });

  it('makes no span and adds no traceparent header', async () => {
    const done = outcomes(worker, 'completed', (e) => e.type === 'T');
    const command = await trace.getTracer('app').startActiveSpan('request', async (span) => {
      const sent = await bus.send(domain, 'T', {});
      span.end();
      return sent;
    });
    await done;
    expect(command.headers).toEqual({});
    expect((await bus.get(command.id)).state).toBe('completed');
    expect(sdk.exporter.getFinishedSpans().map((s) => s.name)).toEqual(['request']);
  });

  it('refuses a tracing option that is not a boolean', () => {
    expect(
      () => new CommandBus({ backend: bus.backend, tracing: 'no' as unknown as boolean }),
    ).toThrow(/the tracing option must be true, false or left out/);
  });
});

describe('tracing with no SDK installed', () => {
  const domain = `nosdk-${randomUUID().slice(0, 8)}`;
  let bus: CommandBus;
  let worker: Worker;
  const logs = captureLogs();
  let followUp = '';

  beforeAll(async () => {
    bus = new CommandBus({ backend: embedded, logger: pino({ level: 'info' }, logs.stream) });
    bus.handle(domain, 'T', async (_data, ctx) => {
      ctx.logger.info('handling');
      followUp = (await ctx.send(domain, 'After', {})).id;
    });
    bus.handle(domain, 'After', () => null);
    worker = await bus.worker({ pollIntervalMs: 50 }).start();
  });

  afterAll(async () => {
    await worker?.stop();
  });

  it('adds no header and throws nothing; a given traceparent still reaches follow-ups and logs', async () => {
    const handled = outcomes(worker, 'completed', (e) => e.type === 'T');
    const plain = await bus.send(domain, 'After', {});
    expect(plain.headers).toEqual({});
    const traceId = 'c'.repeat(32);
    const given = `00-${traceId}-${'d'.repeat(16)}-01`;
    const command = await bus.send(domain, 'T', {}, { headers: { traceparent: given } });
    expect(command.headers).toEqual({ traceparent: given });
    await handled;
    expect((await bus.get(command.id)).state).toBe('completed');
    // without an SDK, a follow-up passes the traceparent on as it was
    expect((await bus.get(followUp)).headers).toEqual({ traceparent: given });
    expect(logs.lines.find((l) => l.msg === 'handling')).toMatchObject({
      commandId: command.id,
      type: 'T',
      attempt: 1,
      traceId,
    });
  });
});
