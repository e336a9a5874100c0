import {
  context,
  isSpanContextValid,
  propagation,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Link,
  type Span,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import type { ClaimedCommand, NewCommand } from './command.js';
import { describeError } from './describe-error.js';
import { checkHeaders } from './headers.js';

/**
 * OpenTelemetry tracing through the API alone: a PRODUCER span for each send, its context
 * carried in the command's headers (`traceparent`, `tracestate`), and a CONSUMER span for
 * each attempt whose parent is that context, with the messaging semantic conventions.
 * The API is a no-op until the application installs an SDK; until then nothing here
 * allocates (see `activeTracer`), so the hot paths pay a few property reads.
 */

const SCOPE = 'dispatchbox';
const SYSTEM = 'dispatchbox';

/** What the API answers when no SDK is installed: the provider every check compares with. */
const NOOP_PROVIDER: TracerProvider = new ProxyTracerProvider().getDelegate();

let cachedProvider: TracerProvider | null = null;
let cachedTracer: Tracer | null = null;

/**
 * The tracer of the installed SDK, or null when none is installed. Asked at every send and
 * attempt, so that an SDK registered after the bus was made is used: without one it costs
 * a global lookup and a comparison, and allocates nothing. (The API's own tracer would
 * make a non-recording span object per call.)
 */
export function activeTracer(): Tracer | null {
  const global = trace.getTracerProvider();
  // a provider registered through another copy of the API is not our proxy class: use it
  const provider = global instanceof ProxyTracerProvider ? global.getDelegate() : global;
  if (provider === NOOP_PROVIDER) return null;
  if (provider !== cachedProvider) {
    cachedTracer = provider.getTracer(SCOPE);
    cachedProvider = provider;
  }
  return cachedTracer;
}

// ---- producer ------------------------------------------------------------------------

/**
 * Starts the PRODUCER span of a send of `commands` (one span for the whole call, however
 * many commands it carries) as a child of `parent` (default: the active context), and
 * writes its context into the headers of every command that carries no `traceparent` of
 * its own. End it with `endSendSpan` once the store has answered.
 */
export function startSendSpan(
  tracer: Tracer,
  commands: readonly NewCommand[],
  parent: Context = context.active(),
  batchId?: string,
): Span {
  const first = commands[0];
  const attributes: Attributes = {
    'messaging.system': SYSTEM,
    'messaging.operation.type': 'send',
    'messaging.operation.name': 'send',
  };
  let name = 'send';
  if (first && commands.every((c) => c.domain === first.domain)) {
    attributes['messaging.destination.name'] = first.domain;
    if (commands.every((c) => c.type === first.type)) {
      attributes['dispatchbox.command.type'] = first.type;
      name = `send ${first.domain}.${first.type}`;
    } else name = `send ${first.domain}`;
  }
  if (commands.length === 1 && first) {
    attributes['messaging.message.id'] = first.id;
    if (first.correlationId !== null)
      attributes['messaging.message.conversation_id'] = first.correlationId;
  } else if (batchId === undefined) {
    attributes['messaging.batch.message_count'] = commands.length;
  }
  if (batchId !== undefined) {
    attributes['dispatchbox.batch.id'] = batchId;
    name = 'send batch';
  }
  const span = tracer.startSpan(name, { kind: SpanKind.PRODUCER, attributes }, parent);
  injectInto(commands, trace.setSpan(parent, span));
  return span;
}

/** The producer span of a batch, the headers its commands carry, and how many were sent. */
export interface BatchTrace {
  readonly span: Span;
  readonly carrier: Record<string, string> | null;
  count: number;
}

/**
 * Starts the PRODUCER span of `createBatch`: one span for the batch and its completion
 * command, whose context every command of it carries (`withTrace`), its commands counted
 * as they are sent (`messaging.batch.message_count`, set when it ends).
 */
export function startBatchSpan(tracer: Tracer, batchId: string): BatchTrace {
  const parent = context.active();
  const span = startSendSpan(tracer, [], parent, batchId);
  return { span, carrier: traceHeaders(trace.setSpan(parent, span)), count: 0 };
}

/**
 * Writes the trace context of `traceContext` into the headers of every command that has
 * no `traceparent` of its own. The headers the sender gave are kept as given: a
 * `tracestate` or `baggage` of theirs wins over the propagated one. Written once and
 * shared by every command of the call; a command whose headers the addition would take
 * over the limits is left as it was.
 */
export function injectInto(commands: readonly NewCommand[], traceContext: Context): void {
  const carrier = traceHeaders(traceContext);
  if (!carrier) return;
  for (const command of commands) command.headers = withTrace(command.headers, carrier);
}

/** The headers of `traceContext` as the global propagator writes them; null when none. */
export function traceHeaders(traceContext: Context): Record<string, string> | null {
  const carrier: Record<string, string> = {};
  propagation.inject(traceContext, carrier);
  return carrier.traceparent === undefined ? null : carrier;
}

/** `headers` with the trace context of `carrier` added, unless they name a traceparent. */
export function withTrace(
  headers: Record<string, string> | undefined,
  carrier: Readonly<Record<string, string>>,
): Record<string, string> | undefined {
  if (headers === undefined) return { ...carrier };
  if (headers.traceparent !== undefined) return headers;
  const merged = { ...carrier, ...headers };
  try {
    return checkHeaders(merged) ?? headers;
  } catch {
    // at the limits already: the command goes without trace context rather than failing
    return headers;
  }
}

/**
 * `sending`, ending the producer `span` when the store has answered: with the error when
 * it failed. `batch.count`: the commands of a batch, known once they are all sent.
 */
export function sendSpanEnds<T>(
  span: Span | null,
  sending: Promise<T>,
  batch?: { count: number } | null,
): Promise<T> {
  if (!span) return sending;
  return sending.then(
    (answer) => {
      if (batch) span.setAttribute('messaging.batch.message_count', batch.count);
      span.end();
      return answer;
    },
    (error: unknown) => {
      recordError(span, error);
      span.end();
      throw error;
    },
  );
}

// ---- consumer ------------------------------------------------------------------------

/** The consumer span of one attempt, and the context its handler runs in. */
export interface ProcessTrace {
  readonly span: Span;
  readonly context: Context;
}

/**
 * Starts the CONSUMER span of one attempt of `command`. Its parent is the producer's
 * context read from the command's headers, also given as a link, as the messaging
 * conventions ask of a process span; a command without trace context starts a trace.
 */
export function startProcessSpan(tracer: Tracer, command: ClaimedCommand): ProcessTrace {
  const parent = propagation.extract(ROOT_CONTEXT, command.headers);
  const producer = trace.getSpanContext(parent);
  const links: Link[] | undefined =
    producer && isSpanContextValid(producer) ? [{ context: producer }] : undefined;
  const attributes: Attributes = {
    'messaging.system': SYSTEM,
    'messaging.operation.type': 'process',
    'messaging.operation.name': 'process',
    'messaging.destination.name': command.domain,
    'messaging.message.id': command.id,
    'dispatchbox.command.type': command.type,
    'dispatchbox.attempt': command.attempts,
  };
  if (command.correlationId !== null)
    attributes['messaging.message.conversation_id'] = command.correlationId;
  if (command.batchId !== null) attributes['dispatchbox.batch.id'] = command.batchId;
  const span = tracer.startSpan(
    `process ${command.domain}.${command.type}`,
    { kind: SpanKind.CONSUMER, attributes, links },
    parent,
  );
  return { span, context: trace.setSpan(parent, span) };
}

/**
 * What became of an attempt, as `dispatchbox.outcome` says: completed; retry (failed,
 * tried again after backoff); troubleshooting (failed for good); released (snoozed,
 * rate limited, or handed back because the store failed around it, no attempt spent);
 * stale (the store refused the outcome: the lease had passed to another attempt);
 * abandoned (the lease was lost or the worker stopped while it ran).
 */
export type AttemptOutcome =
  'completed' | 'retry' | 'troubleshooting' | 'released' | 'stale' | 'abandoned';

/**
 * Ends the span of an attempt. An attempt whose handler failed, retried or not, has
 * status ERROR with the exception recorded and `error.type` its error code: the span is
 * about this attempt, and this attempt failed (`dispatchbox.outcome` tells a retry from
 * troubleshooting). A store failure around the handler is an error too. Released, stale
 * and abandoned attempts keep status UNSET: nothing of the handler's failed.
 */
export function endProcessSpan(
  span: Span,
  outcome: AttemptOutcome,
  failure?: { error: unknown; code: string },
): void {
  span.setAttribute('dispatchbox.outcome', outcome);
  if (failure) {
    span.setAttribute('error.type', failure.code);
    recordError(span, failure.error);
  }
  span.end();
}

/**
 * The context a follow-up sent from a handler starts in: the active one when it holds a
 * span (the handler's own, or the attempt's where a context manager carries it), else the
 * attempt's, so the follow-up stays in the trace without a context manager too.
 */
export function followUpContext(attempt: ProcessTrace): Context {
  const active = context.active();
  return trace.getSpan(active) ? active : attempt.context;
}

/**
 * True when the installed propagator writes `traceparent`: then a follow-up's send
 * writes a fresh one (its own producer span) and the one of the command being handled
 * is not passed on. Without such a propagator, it is passed on as before.
 */
export function propagatesTraceparent(): boolean {
  return propagation.fields().includes('traceparent');
}

// ---- log correlation -----------------------------------------------------------------

const TRACEPARENT = /^[\da-f]{2}-([\da-f]{32})-[\da-f]{16}-[\da-f]{2}/;
const NO_TRACE = '00000000000000000000000000000000';

/**
 * The trace id of a command, for its log lines: the attempt's span's when there is one,
 * else the one its `traceparent` header names; undefined when neither.
 */
export function traceIdOf(
  headers: Readonly<Record<string, string>>,
  attempt: ProcessTrace | null | undefined,
): string | undefined {
  if (attempt) {
    const spanContext = attempt.span.spanContext();
    if (isSpanContextValid(spanContext)) return spanContext.traceId;
  }
  const traceparent = headers.traceparent;
  if (traceparent === undefined) return undefined;
  const traceId = TRACEPARENT.exec(traceparent)?.[1];
  return traceId === undefined || traceId === NO_TRACE ? undefined : traceId;
}

/** Records what failed on `span`; never throws, whatever was thrown (see describeError). */
function recordError(span: Span, error: unknown): void {
  const { code, message } = describeError(error);
  try {
    span.recordException(error instanceof Error ? error : { name: code, message });
  } catch {
    // a value whose properties throw when read (a revoked Proxy): its description instead
    span.recordException({ name: code, message });
  }
  span.setStatus({ code: SpanStatusCode.ERROR, message });
}
