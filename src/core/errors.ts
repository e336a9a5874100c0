import type { JsonValue } from './command.js';
import type { CommandState } from './states.js';

/**
 * The root of every error Dispatchbox throws on purpose. `code` is stable and meant for
 * programs; `message` says what was wrong and how to fix it.
 */
export class DispatchboxError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Bad configuration: an option, a flag or a DISPATCHBOX_* variable. */
export class ConfigurationError extends DispatchboxError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CONFIGURATION', message, options);
  }
}

/** Input refused before anything was stored: payload, options, operator arguments. */
export class ValidationError extends DispatchboxError {
  /** Where the problem is, e.g. `data.customer.email` or `priority`. */
  readonly path: string | null;
  constructor(message: string, path: string | null = null, code = 'VALIDATION') {
    super(code, message);
    this.path = path;
  }
}

export class PayloadTooLargeError extends ValidationError {
  constructor(bytes: number, limit: number) {
    super(
      `payload is ${bytes} bytes, over the limit of ${limit} bytes; send a reference to the data instead, or raise maxPayloadBytes (DISPATCHBOX_MAX_PAYLOAD_BYTES)`,
      'data',
      'PAYLOAD_TOO_LARGE',
    );
  }
}

export class UnknownHandlerError extends ValidationError {
  constructor(domain: string, type: string) {
    super(
      `no handler is registered for ${domain}/${type}; register one with bus.handle('${domain}', '${type}', fn) or turn strict mode off`,
      'type',
      'UNKNOWN_HANDLER',
    );
  }
}

/** The store failed or could not be reached. The operation may be retried. */
export class StoreError extends DispatchboxError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('STORE', message, options);
  }
}

export class SchemaVersionError extends DispatchboxError {
  constructor(message: string) {
    super('SCHEMA_VERSION', message);
  }
}

export class CommandNotFoundError extends DispatchboxError {
  constructor(id: string) {
    super('NOT_FOUND', `no command with id ${id}; check the id (dispatchbox show <id>)`);
  }
}

export class BatchNotFoundError extends DispatchboxError {
  constructor(id: string) {
    super('NOT_FOUND', `no batch with id ${id}`);
  }
}

/** An operator action (or cancel) on a command whose state does not allow it. */
export class InvalidStateError extends DispatchboxError {
  readonly state: CommandState;
  constructor(id: string, action: string, state: CommandState, allowed: readonly CommandState[]) {
    super(
      'INVALID_STATE',
      `cannot ${action} command ${id}: it is ${state}, and ${action} applies only to ${allowed.join(' or ')} commands`,
    );
    this.state = state;
  }
}

/** The worker's lease on a command was lost (expired and taken by another claim). */
export class LeaseLostError extends DispatchboxError {
  constructor(id: string) {
    super('LEASE_LOST', `lease on command ${id} was lost; another attempt owns it now`);
  }
}

// ---- Errors a handler throws to steer what happens next ----------------------------------

export interface HandlerErrorOptions {
  code?: string | undefined;
  details?: JsonValue | undefined;
  cause?: unknown;
}

/** Base of the errors a handler throws on purpose. */
export class HandlerError extends DispatchboxError {
  readonly details: JsonValue | undefined;
  constructor(defaultCode: string, message: string, options: HandlerErrorOptions = {}) {
    super(options.code ?? defaultCode, message, { cause: options.cause });
    this.details = options.details;
  }
}

/** No retry: the command goes straight to the troubleshooting queue. */
export class PermanentError extends HandlerError {
  constructor(message: string, options?: HandlerErrorOptions) {
    super('PERMANENT', message, options);
  }
}

/** Retried under the retry policy (as is any error that is not a HandlerError). */
export class TransientError extends HandlerError {
  constructor(message: string, options?: HandlerErrorOptions) {
    super('TRANSIENT', message, options);
  }
}

/** The handler ran past its timeout. Counts as a transient failure. */
export class HandlerTimeoutError extends TransientError {
  constructor(timeoutMs: number) {
    super(`handler did not finish within ${timeoutMs} ms`, { code: 'TIMEOUT' });
  }
}

/** Run again later without spending an attempt. */
export class SnoozeError extends HandlerError {
  readonly delayMs: number;
  constructor(delayMs: number, reason = 'snoozed') {
    super('SNOOZED', reason);
    this.delayMs = delayMs;
  }
}
