import type { Logger } from 'pino';
import type { Queryable } from './queryable.js';
import type { Command, JsonValue } from './command.js';
import type { SendOptions } from './send-options.js';

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
  readonly command: Command;
  /** Fired on timeout, on a lost lease and when shutdown runs out of time. */
  readonly signal: AbortSignal;
  /** A pino logger bound to the command id, type, attempt, correlation and batch ids. */
  readonly logger: Logger;
  /** Sends a follow-up command that inherits this command's correlation id and names it as cause. */
  send(
    domain: string,
    type: string,
    data: JsonValue | object,
    options?: SendOptions,
  ): Promise<Command>;
  /** Extends the lease now; throws LeaseLostError when another attempt owns the command. */
  heartbeat(): Promise<void>;
  /** The store transaction that will complete the command (handlers with `transactional: true`). */
  readonly tx: Queryable | undefined;
}

/** A function wrapped around every handler call; call `next()` to go on. */
export type Middleware = (ctx: HandlerContext, next: () => Promise<unknown>) => Promise<unknown>;

export type Handler<TData = unknown> = (data: TData, ctx: HandlerContext) => unknown;
