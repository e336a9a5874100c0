import type { Settlement } from '../backends/backend.js';
import type { ClaimedCommand } from '../core/command.js';
import { describeError } from '../core/describe-error.js';
import { PermanentError } from '../core/errors.js';
import { toJsonText } from '../core/json.js';
import { decideFailure, type RetryPolicy } from '../core/retry.js';

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
export const STORE_UNAVAILABLE_DELAY_MS = 1000;

/**
 * What happened to one attempt, as a value: the worker turns it into a settlement with
 * `settlementFor` (the one place that decides), and into events.
 */
export type RunOutcome =
  /** The handler ran and returned; `resultJson` is its result as stored. */
  | { kind: 'ran'; resultJson: string | null }
  /** A transactional handler ran and its completion committed with its writes. */
  | { kind: 'committed' }
  /** A transactional handler ran but the store refused its completion: the lease was lost. */
  | { kind: 'stale' }
  /** The handler failed (or its result, payload or rate-limit key was unusable). */
  | { kind: 'handlerFailed'; error: unknown }
  /** The store failed around the handler (its transaction): not the command's fault. */
  | { kind: 'storeFailed'; error: unknown }
  /** A rate limit or global concurrency cap refused the attempt; no attempt spent. */
  | { kind: 'limited'; delayMs: number; reason: string; tokenWait: boolean }
  /** Kept by the worker until a rate-limit token is due: it runs from there, unsettled. */
  | { kind: 'held' }
  /** Its lease was lost or it was handed back: the outcome is no longer this worker's. */
  | { kind: 'abandoned' };

/**
 * The settlement an outcome makes, or null when there is nothing to write (already
 * written in the handler's transaction, refused as stale, held, abandoned). Pure:
 * `random` is the retry policy's jitter.
 *
 * - ran → complete with its result;
 * - handler failed → its retry policy decides: retry with backoff, troubleshooting for a
 *   permanent error or exhausted attempts, a release for a snooze;
 * - store failed → released for a second, attempt unspent (not the command's fault);
 * - limited → released until the limit lets it through, attempt unspent.
 */
export function settlementFor(
  outcome: RunOutcome,
  command: ClaimedCommand,
  policy: RetryPolicy,
  random?: () => number,
): Settlement | null {
  switch (outcome.kind) {
    case 'ran':
      return { kind: 'complete', ...leaseOf(command), resultJson: outcome.resultJson };
    case 'storeFailed':
      return {
        kind: 'release',
        ...leaseOf(command),
        delayMs: STORE_UNAVAILABLE_DELAY_MS,
        reason: 'store unavailable',
      };
    case 'limited':
      return {
        kind: 'release',
        ...leaseOf(command),
        delayMs: outcome.delayMs,
        reason: outcome.reason,
      };
    case 'handlerFailed': {
      const lease = leaseOf(command);
      const decision = decideFailure(
        outcome.error,
        command.attempts,
        command.maxAttempts,
        policy,
        random,
      );
      if (decision.kind === 'release')
        return { kind: 'release', ...lease, delayMs: decision.delayMs, reason: decision.reason };
      if (decision.kind === 'retry')
        return { kind: 'retry', ...lease, delayMs: decision.delayMs, error: decision.error };
      return { kind: 'troubleshoot', ...lease, error: decision.error };
    }
    case 'committed':
    case 'stale':
    case 'held':
    case 'abandoned':
      return null;
  }
}
