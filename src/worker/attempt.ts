import { context } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { Backend, Settlement } from '../backends/backend.js';
import { commandLogFields } from '../core/log-fields.js';
import { logFailure } from '../core/log-safely.js';
import { activeTracer, endProcessSpan, startProcessSpan } from '../core/tracing.js';
import type { Admission, HandlerLimits, LimitGate } from '../ratelimit/index.js';
import type { WorkerEventSource } from './event-source.js';
import type { ClaimedCommand } from '../core/command.js';
import type { RegisteredHandler } from '../core/registry.js';
import { CommandContext, runHandler, type Execution, type ExecutionHost } from './execute.js';
import { LazyAbort } from './lazy-abort.js';
import { leaseOf, resultJson, settlementFor, type RunOutcome } from './outcomes.js';

/** One run of a handler on a claimed command, as the worker tracks it. */
export interface Run extends Execution {
  /** Handed back at shutdown or lost with its lease: its outcome is no longer ours to write. */
  abandoned: boolean;
  /** Its place in the worker's RunningSet. */
  slot: number;
  /** When the handler started (performance.now()); null until it has. */
  startedAt: number | null;
  /** How long the handler ran, once it has ended. */
  durationMs: number | null;
}

export function newRun(
  command: ClaimedCommand,
  handler: RegisteredHandler,
  host: ExecutionHost,
): Run {
  return {
    command,
    handler,
    controller: new LazyAbort(),
    host,
    trace: null,
    abandoned: false,
    slot: -1,
    startedAt: null,
    durationMs: null,
  };
}

/** What an attempt needs of its worker. */
export interface AttemptEnv {
  readonly backend: Backend;
  readonly workerId: string;
  readonly limits: LimitGate;
  readonly events: WorkerEventSource;
  readonly logger: Logger;
  /** A consumer span per attempt when an OpenTelemetry SDK is installed (core/tracing.ts). */
  readonly tracing: boolean;
  /** The retry policy's jitter (injected by tests). */
  readonly random: (() => number) | undefined;
  /** Keeps a rate-limited command in the worker until its token is due; false if it cannot. */
  hold(run: Run, delayMs: number): boolean;
  /** Has the worker look for work again in `delayMs` (a released command is due then). */
  wakeAt(delayMs: number): void;
  /** Queues a settlement for the batched write. */
  queue(settlement: Settlement, run: Run): void;
}

const COMMITTED: RunOutcome = { kind: 'committed' };
const STALE: RunOutcome = { kind: 'stale' };
const ABANDONED: RunOutcome = { kind: 'abandoned' };

/**
 * Runs one attempt and says what happened: takes the handler's rate-limit tokens and
 * global slot, if it has limits, then runs it (in a store transaction when it is
 * transactional and the store has them). Never rejects: every failure is an outcome, and
 * the worker turns the outcome into a settlement (settlementFor) and events.
 */
export function runAttempt(run: Run, env: AttemptEnv): Promise<RunOutcome> {
  const limits = run.handler.limits;
  return limits ? runLimited(run, limits, env) : runAdmitted(run, env);
}

async function runLimited(run: Run, limits: HandlerLimits, env: AttemptEnv): Promise<RunOutcome> {
  // Tokens and the global slot are taken only now, so handlers without limits cost the
  // store nothing more. A refusal sends the command back to wait, attempt unspent.
  const admission = await admit(run, limits, env.limits);
  if ('kind' in admission) return run.abandoned ? ABANDONED : admission;
  if (!admission.admitted) {
    const { delayMs, reason, tokenWait } = admission;
    return { kind: 'limited', delayMs, reason, tokenWait };
  }
  try {
    return await runAdmitted(run, env);
  } finally {
    admission.done();
  }
}

/**
 * The gate's answer. It answers store failures itself; what it throws is the command's
 * own fault (a rateLimit key function that fails on it), so it counts as a handler failure.
 */
async function admit(
  run: Run,
  limits: HandlerLimits,
  gate: LimitGate,
): Promise<Admission | RunOutcome> {
  try {
    let admission = await gate.admit(run.command, limits);
    // A token is used only right after it was granted (ratelimit/freshness.ts): the
    // handler starts with nothing awaited after this check but the return.
    while (admission.admitted && admission.late()) admission = await admission.again();
    return admission;
  } catch (error) {
    return { kind: 'handlerFailed', error };
  }
}

async function runAdmitted(run: Run, env: AttemptEnv): Promise<RunOutcome> {
  env.events.started(run.command);
  const tracer = env.tracing ? activeTracer() : null;
  // the handler runs in the span's context, so that its own spans nest inside
  const trace = tracer ? (run.trace = startProcessSpan(tracer, run.command)) : null;
  const startedAt = performance.now();
  run.startedAt = startedAt;
  let outcome: RunOutcome;
  if (run.handler.transactional && env.backend.capabilities.transactions) {
    outcome = trace
      ? await context.with(trace.context, runInTransaction, undefined, run, env)
      : await runInTransaction(run, env);
    // committed or refused in its own transaction, the outcome is written already
    if (outcome.kind === 'committed' || outcome.kind === 'stale') {
      run.durationMs = performance.now() - startedAt;
      return outcome;
    }
  } else {
    // written out here rather than as a function of its own: one promise less per run
    try {
      const ctx = new CommandContext(run, undefined);
      const returned = trace
        ? context.with(trace.context, runHandler, undefined, run, ctx)
        : runHandler(run, ctx);
      const result = resultJson(await returned);
      outcome = { kind: 'ran', resultJson: result };
    } catch (error) {
      outcome = { kind: 'handlerFailed', error };
    }
  }
  run.durationMs = performance.now() - startedAt;
  return run.abandoned ? ABANDONED : outcome;
}

/** The handler's writes and its completion commit together, or not at all. */
async function runInTransaction(run: Run, env: AttemptEnv): Promise<RunOutcome> {
  // The transaction rethrows what the handler threw, after its rollback: this tells the
  // handler's failure from the store's.
  let handlerFailed = false;
  try {
    const written = await env.backend.completeInTransaction(
      { ...leaseOf(run.command), workerId: env.workerId },
      async (tx) => {
        try {
          return resultJson(await runHandler(run, new CommandContext(run, tx)));
        } catch (error) {
          handlerFailed = true;
          throw error;
        }
      },
      run.controller.signal,
    );
    return written === 'stale' ? STALE : COMMITTED;
  } catch (error) {
    return handlerFailed ? { kind: 'handlerFailed', error } : { kind: 'storeFailed', error };
  }
}

/**
 * What an attempt's outcome makes: its events, then the settlement `settlementFor`
 * decides, queued for the batched write. A rate-limited command whose token is due soon
 * is held in the worker instead.
 */
export function settleAttempt(run: Run, outcome: RunOutcome, env: AttemptEnv): void {
  const { command, handler } = run;
  switch (outcome.kind) {
    case 'committed':
      endTrace(run, outcome, null);
      return env.events.completed(run, command.domain);
    case 'stale':
      endTrace(run, outcome, null);
      return env.events.stale('complete', run);
    case 'storeFailed':
      logFailure(
        env.logger,
        'warn',
        commandLogFields(command, run.trace),
        outcome.error,
        'store failed around a handler; handing the command back',
      );
      break;
    case 'limited': {
      const { delayMs, reason } = outcome;
      const held = outcome.tokenWait && env.hold(run, delayMs);
      env.events.rateLimited(command, delayMs, reason, held);
      if (held) return;
      // sent back to the store: look for it again when it is due
      env.wakeAt(delayMs);
      break;
    }
  }
  const settlement = settlementFor(outcome, command, handler.retryPolicy, env.random);
  endTrace(run, outcome, settlement);
  if (!settlement) return;
  if (settlement.kind === 'retry') env.events.failed(run, settlement);
  env.queue(settlement, run);
}

/**
 * Ends the attempt's span, if it is traced, with what became of the attempt (see
 * endProcessSpan): the outcome as the worker decided it, before the batched write.
 */
function endTrace(run: Run, outcome: RunOutcome, settlement: Settlement | null): void {
  const span = run.trace?.span;
  if (!span) return;
  switch (outcome.kind) {
    case 'ran':
    case 'committed':
      return endProcessSpan(span, 'completed');
    case 'stale':
    case 'abandoned':
      return endProcessSpan(span, outcome.kind);
    case 'storeFailed':
      return endProcessSpan(span, 'released', { error: outcome.error, code: 'STORE_FAILED' });
    case 'handlerFailed':
      if (settlement?.kind === 'retry')
        return endProcessSpan(span, 'retry', { error: outcome.error, code: settlement.error.code });
      if (settlement?.kind === 'troubleshoot')
        return endProcessSpan(span, 'troubleshooting', {
          error: outcome.error,
          code: settlement.error.code,
        });
      // a snooze: the handler asked to run later
      return endProcessSpan(span, 'released');
    case 'limited':
    case 'held':
      return endProcessSpan(span, 'released');
  }
}
