import type { Logger } from 'pino';
import type { Queryable } from './queryable.js';
import type { Command, JsonValue } from './command.js';
import type { SendOptions } from './send-options.js';
import type { RateLimitCallOptions, TakeTokenResult } from './rate-limit-spec.js';

/** What a handler gets besides its payload. */
export interface HandlerContext {
  readonly commandId: string;
  readonly domain: string;
  readonly type: string;
  /** 1 for the first attempt. */
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly createdAt: Date;
  readonly correlationId: string | null;
  readonly batchId: string | null;
  /**
   * The headers the command was sent with (SendOptions.headers), names in lower case; `{}`
   * when none. `ctx.send` passes the trace context ones on to follow-ups.
   */
  readonly headers: Readonly<Record<string, string>>;
  readonly command: Command;
  /** Fired on timeout, on a lost lease and when shutdown runs out of time. */
  readonly signal: AbortSignal;
  /** A pino logger bound to the command id, type, attempt, correlation and batch ids. */
  readonly logger: Logger;
  /**
   * Sends a follow-up command that inherits this command's correlation id, names it as
   * cause, and carries its trace context headers (`traceparent` with `tracestate`, and
   * `baggage`) unless `options.headers` names its own.
   */
  send(
    domain: string,
    type: string,
    data: JsonValue | object,
    options?: SendOptions,
  ): Promise<Command>;
  /** Extends the lease now; throws LeaseLostError when another attempt owns the command. */
  heartbeat(): Promise<void>;
  /**
   * Takes a token from the named bucket, shared by every worker of the store, for a call
   * made mid-handler. Waits until one is due (ending early if `signal` fires) and resolves
   * `{ granted: true, retryAfterMs: 0 }`; with `{ wait: false }` reports at once. The spec
   * comes from a handler's `rateLimit` with this key, `registry.rateLimits.define`, or
   * `{ limit, per, burst }` here.
   */
  rateLimit(key: string, options?: RateLimitCallOptions): Promise<TakeTokenResult>;
  /** The store transaction that will complete the command (handlers with `transactional: true`). */
  readonly tx: Queryable | undefined;
}

/** A function wrapped around every handler call; call `next()` to go on. */
export type Middleware = (ctx: HandlerContext, next: () => Promise<unknown>) => Promise<unknown>;

export type Handler<TData = unknown> = (data: TData, ctx: HandlerContext) => unknown;
