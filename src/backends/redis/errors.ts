/**
 * The one place where Redis replies become Dispatchbox errors: the return codes of the
 * Lua scripts (each script's header lists the codes it returns), and failures of the
 * connection itself, which become a StoreError naming what was being done.
 */
import { ReplyError } from 'ioredis';
import {
  CommandNotFoundError,
  DispatchboxError,
  InvalidStateError,
  StoreError,
  ValidationError,
} from '../../core/errors.js';
import { redactSecrets } from '../../core/redact.js';
import type { CommandState } from '../../core/states.js';

/** What the failing call was about, for the message. */
export interface ScriptErrorContext {
  id: string;
  action?: string;
  allowed?: readonly CommandState[];
}

/** True when a script reply is an error code: an array whose first element is a known code. */
export function isScriptError(reply: unknown): reply is [string, ...unknown[]] {
  return Array.isArray(reply) && typeof reply[0] === 'string' && reply[0] in SCRIPT_ERRORS;
}

const SCRIPT_ERRORS: Record<string, (reply: unknown[], c: ScriptErrorContext) => DispatchboxError> =
  {
    NOT_FOUND: (_r, c) => new CommandNotFoundError(c.id),
    INVALID_STATE: (r, c) =>
      new InvalidStateError(c.id, c.action ?? 'change', r[1] as CommandState, c.allowed ?? []),
    BATCH_EXISTS: (_r, c) =>
      new ValidationError(
        `a batch with id ${c.id} exists already; give each batch a new id (or none)`,
        'id',
      ),
  };

export function scriptError(
  reply: [string, ...unknown[]],
  context: ScriptErrorContext,
): DispatchboxError {
  return SCRIPT_ERRORS[reply[0]]!(reply, context);
}

/** Our own errors pass through; anything from the client or server becomes a StoreError. */
export function toStoreError(error: unknown, doing: string): Error {
  if (error instanceof DispatchboxError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new StoreError(`Redis failed while ${doing}: ${redactSecrets(message)}`, { cause: error });
}

/**
 * True when the error is Redis refusing what a script was sent: the server answered
 * with an error of the script's own (ERR: a malformed value, JSON text cjson cannot
 * read), not a failure of the server (OOM, READONLY, LOADING, BUSY) or of the connection.
 */
export function isRefusal(error: unknown): boolean {
  const cause = error instanceof StoreError ? error.cause : error;
  return cause instanceof ReplyError && (cause as Error).message.startsWith('ERR ');
}
