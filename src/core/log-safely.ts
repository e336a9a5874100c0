import type { Logger } from 'pino';
import { describeError } from './describe-error.js';

/**
 * Logs a failure with the error under `err`, and never throws. pino's error serialiser
 * reads the thrown value's properties, and some values throw when read (a revoked Proxy,
 * a `message` getter that throws): those are logged by their description instead. A
 * logger that throws even then is ignored, since these calls sit on the paths that write
 * outcomes, renew leases and keep the worker running.
 */
export function logFailure(
  logger: Logger,
  level: 'warn' | 'error',
  fields: Record<string, unknown>,
  error: unknown,
  message: string,
): void {
  try {
    logger[level]({ ...fields, err: error }, message);
    return;
  } catch {
    // the value cannot be serialised: log its description
  }
  try {
    logger[level]({ ...fields, error: describeError(error) }, message);
  } catch {
    // the logger itself fails: nothing left to tell
  }
}

/**
 * An application's callback made safe to call from event handlers and timers, where what
 * it throws would end the process (an uncaught exception) or leave a promise rejected
 * unhandled: what it throws is dropped.
 */
export function neverThrows<A extends unknown[]>(
  callback: ((...args: A) => void) | undefined,
): (...args: A) => void {
  return (...args: A) => {
    try {
      callback?.(...args);
    } catch {
      // the application's own callback failed: nothing of ours to tell it with
    }
  };
}
