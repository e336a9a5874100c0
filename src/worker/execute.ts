import type { Context } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { TakeTokenResult } from '../backends/backend.js';
import type { ClaimedCommand, Command, JsonValue } from '../core/command.js';
import type { HandlerContext, Middleware } from '../core/context.js';
import { describeError } from '../core/describe-error.js';
import { HandlerTimeoutError, PermanentError } from '../core/errors.js';
import { followUpHeaders } from '../core/headers.js';
import { commandLogFields } from '../core/log-fields.js';
import { followUpContext, propagatesTraceparent, type ProcessTrace } from '../core/tracing.js';
import type { z } from 'zod';
import type { Queryable } from '../core/queryable.js';
import { parseWithSchema, type RegisteredHandler } from '../core/registry.js';
import type { SendOptions } from '../core/send-options.js';
import type { RateLimitCallOptions } from '../core/rate-limit-spec.js';
import type { LazyAbort } from './lazy-abort.js';
import { logFailure } from '../core/log-safely.js';

/** The bus's send; `parent`: the trace context a follow-up's producer span starts in. */
export type SendFn = (
  domain: string,
  type: string,
  data: unknown,
  options?: SendOptions,
  parent?: Context,
) => Promise<Command>;

/** What every run of one worker shares: made once per worker, not per command. */
export interface ExecutionHost {
  readonly logger: Logger;
  readonly middleware: readonly Middleware[];
  readonly send: SendFn;
  /** `ctx.heartbeat` of this run. */
  heartbeat(run: Execution): Promise<void>;
  /** `ctx.rateLimit` of this run, bound to the worker's limit gate. */
  rateLimit(run: Execution, key: string, options?: RateLimitCallOptions): Promise<TakeTokenResult>;
}

/** One run of a handler on one claimed command. */
export interface Execution {
  readonly command: ClaimedCommand;
  readonly handler: RegisteredHandler;
  readonly controller: LazyAbort;
  readonly host: ExecutionHost;
  /** The attempt's consumer span and the context its handler runs in; null when untraced. */
  trace: ProcessTrace | null;
}

/**
 * The handler's context. A class rather than an object literal, so that a run allocates
 * one small object: an object literal with getters and arrow functions made a dozen
 * closures per command, a third of a no-op handler's garbage at 20,000 commands a
 * second. The logger child is made on first use (most handlers never log), and
 * `send`, `heartbeat` and `rateLimit` are bound on first use, so that a handler may
 * still destructure them from the context.
 */
export class CommandContext implements HandlerContext {
  readonly commandId: string;
  readonly domain: string;
  readonly type: string;
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly createdAt: Date;
  readonly correlationId: string | null;
  readonly batchId: string | null;
  readonly headers: Readonly<Record<string, string>>;
  readonly command: Command;
  private childLogger: Logger | undefined;
  private bound: Pick<HandlerContext, 'send' | 'heartbeat' | 'rateLimit'> | undefined;

  constructor(
    private readonly run: Execution,
    readonly tx: Queryable | undefined,
  ) {
    const c = run.command;
    this.commandId = c.id;
    this.domain = c.domain;
    this.type = c.type;
    this.attempt = c.attempts;
    this.maxAttempts = c.maxAttempts;
    this.createdAt = c.createdAt;
    this.correlationId = c.correlationId;
    this.batchId = c.batchId;
    this.headers = c.headers;
    this.command = c;
  }

  get signal(): AbortSignal {
    return this.run.controller.signal;
  }

  get logger(): Logger {
    const { run } = this;
    this.childLogger ??= run.host.logger.child(commandLogFields(run.command, run.trace));
    return this.childLogger;
  }

  get send(): HandlerContext['send'] {
    return this.methods().send;
  }

  get heartbeat(): HandlerContext['heartbeat'] {
    return this.methods().heartbeat;
  }

  get rateLimit(): HandlerContext['rateLimit'] {
    return this.methods().rateLimit;
  }

  private methods(): Pick<HandlerContext, 'send' | 'heartbeat' | 'rateLimit'> {
    const { run } = this;
    const c = run.command;
    this.bound ??= {
      // an option left undefined keeps the default taken from this command
      send: (domain, type, data, options = {}) => {
        // a traced attempt's follow-up gets a traceparent of its own send's span, a child
        // of this attempt's (or of the handler's span that is active)
        const traced = run.trace !== null && propagatesTraceparent();
        return run.host.send(
          domain,
          type,
          data,
          {
            ...options,
            correlationId: options?.correlationId ?? c.correlationId ?? c.id,
            causationId: options?.causationId ?? c.id,
            headers: followUpHeaders(c.headers, options?.headers, !traced),
          },
          run.trace ? followUpContext(run.trace) : undefined,
        );
      },
      // a handler may call it without awaiting it; a lost lease also aborts ctx.signal
      heartbeat: () => handled(run.host.heartbeat(run)),
      rateLimit: (key, options) => run.host.rateLimit(run, key, options),
    };
    return this.bound;
  }
}

/**
 * Runs the handler inside its middleware, in this order (outermost first): logging,
 * timeout, then the application's middleware in the order it was added, then the handler.
 * Resolves to the handler's result.
 *
 * Logging and the timeout are written out here rather than composed as middleware per
 * run: the composed chain cost an array, a closure per link and three promises per
 * command, for the common case of no application middleware.
 */
export async function runHandler(
  run: Execution,
  ctx: HandlerContext,
): Promise<JsonValue | undefined> {
  try {
    const data = run.handler.schema
      ? parseAtRun(run.handler.schema, run.command.data)
      : run.command.data;
    const middleware = run.host.middleware;
    const inner =
      middleware.length === 0
        ? callHandler(run, data, ctx)
        : callChain(middleware, 0, ctx, () => callHandler(run, data, ctx));
    return (await withTimeout(inner, run.handler.timeoutMs, run.controller)) as
      JsonValue | undefined;
  } catch (error) {
    logFailure(ctx.logger, 'warn', {}, error, 'handler failed');
    throw error;
  }
}

/** The handler's own call: a synchronous throw becomes a rejection, like an async handler's. */
// eslint-disable-next-line @typescript-eslint/require-await -- async for the rejection above
async function callHandler(run: Execution, data: unknown, ctx: HandlerContext): Promise<unknown> {
  return run.handler.fn(data, ctx);
}

/**
 * The middleware from `index` on, then `last`. Each link's result is made a promise (a
 * middleware may return a plain value), and the promise `next()` hands a middleware is
 * marked handled: one that calls `next()` without awaiting it must not leave a rejection
 * no one handles. Whoever awaits it still sees the rejection.
 */
async function callChain(
  chain: readonly Middleware[],
  index: number,
  ctx: HandlerContext,
  last: () => Promise<unknown>,
): Promise<unknown> {
  const mw = chain[index];
  if (!mw) return last();
  return mw(ctx, () => handled(callChain(chain, index + 1, ctx, last)));
}

function handled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

/**
 * Settles like `work`, or rejects with a HandlerTimeoutError after `timeoutMs` (aborting
 * the run's signal), whichever comes first. One promise and one timer per run.
 */
function withTimeout(
  work: Promise<unknown>,
  timeoutMs: number,
  controller: LazyAbort,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(expire, timeoutMs, timeoutMs, controller, reject);
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

function expire(timeoutMs: number, controller: LazyAbort, reject: (e: unknown) => void): void {
  const error = new HandlerTimeoutError(timeoutMs);
  controller.abort(error);
  reject(error);
}

/** A payload that no longer fits the schema will not fit it on a retry either. */
function parseAtRun(schema: z.ZodType, data: unknown): unknown {
  try {
    return parseWithSchema(schema, data);
  } catch (error) {
    throw new PermanentError(describeError(error).message, { code: 'VALIDATION' });
  }
}
