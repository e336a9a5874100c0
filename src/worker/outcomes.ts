import type { Settlement } from '../backends/backend.js';
import type { ClaimedCommand } from '../core/command.js';
import { describeError } from '../core/describe-error.js';
import { PermanentError } from '../core/errors.js';
import { toJsonText } from '../core/json.js';
import type { RegisteredHandler } from '../core/registry.js';
import { decideFailure } from '../core/retry.js';

/** The lease of a claimed command, as settlements and renewals name it. */
export function leaseOf(command: ClaimedCommand): {
  id: string;
  leaseToken: string;
  domain: string;
  attempt: number;
} {
  return {
    id: command.id,
    leaseToken: command.leaseToken,
    domain: command.domain,
    attempt: command.attempts,
  };
}

/**
 * A handler's return value as stored: none for undefined, else its JSON text. A result
 * that cannot be stored fails the run for good: running again would return it again.
 */
export function resultJson(result: unknown): string | null {
  if (result === undefined) return null;
  try {
    return toJsonText(result, 'result');
  } catch (error) {
    throw new PermanentError(
      `the handler's result cannot be stored: ${describeError(error).message}`,
      {
        code: 'INVALID_RESULT',
        cause: error,
      },
    );
  }
}

/** How long a command waits when the store failed around its handler. */
const STORE_UNAVAILABLE_DELAY_MS = 1000;

/**
 * What a failed run becomes. When the handler itself failed, its retry policy decides
 * (retry, troubleshooting, or a release for a snooze); when the store failed around it
 * (admission, the transaction), it is not the command's fault, so it goes back without
 * spending the attempt.
 */
export function failureSettlement(
  error: unknown,
  command: ClaimedCommand,
  handler: RegisteredHandler,
  handlerFailed: boolean,
  random?: () => number,
): Settlement {
  const lease = leaseOf(command);
  if (!handlerFailed) {
    return {
      kind: 'release',
      ...lease,
      delayMs: STORE_UNAVAILABLE_DELAY_MS,
      reason: 'store unavailable',
    };
  }
  const decision = decideFailure(
    error,
    command.attempts,
    command.maxAttempts,
    handler.retryPolicy,
    random,
  );
  if (decision.kind === 'release')
    return { kind: 'release', ...lease, delayMs: decision.delayMs, reason: decision.reason };
  if (decision.kind === 'retry')
    return { kind: 'retry', ...lease, delayMs: decision.delayMs, error: decision.error };
  return { kind: 'troubleshoot', ...lease, error: decision.error };
}
