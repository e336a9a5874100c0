import { toMillis, type Duration } from './duration.js';
import { PermanentError, SnoozeError, ValidationError } from './errors.js';
import type { CommandError } from './command.js';
import { describeError, isInstance } from './describe-error.js';
import { storableText } from './json.js';

/** How long to wait before the next attempt after a transient failure. */
export type Backoff =
  | { type: 'fixed'; delay: Duration }
  | { type: 'schedule'; delays: readonly Duration[] }
  | { type: 'exponential'; base: Duration; max: Duration; jitter?: boolean | undefined };

export interface RetryPolicy {
  maxAttempts: number;
  backoff: Backoff;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 5,
  backoff: { type: 'exponential', base: '1s', max: '5m', jitter: true },
};

/** What to do with a command whose attempt threw. */
export type FailureDecision =
  | { kind: 'retry'; delayMs: number; error: CommandError }
  | { kind: 'troubleshoot'; error: CommandError }
  | { kind: 'release'; delayMs: number; reason: string };

/**
 * Decides the fate of a failed attempt. Pure: the same inputs give the same answer, with
 * `random` injected for jitter so tests can pin it.
 *
 * `attempt` is the attempt that just failed (1 for the first).
 */
export function decideFailure(
  error: unknown,
  attempt: number,
  maxAttempts: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): FailureDecision {
  if (isInstance(error, SnoozeError)) {
    const { message } = describeError(error);
    return { kind: 'release', delayMs: snoozeDelay(error), reason: storableText(message) };
  }
  const described = describeError(error);
  if (isInstance(error, PermanentError)) return { kind: 'troubleshoot', error: described };
  if (attempt >= maxAttempts) {
    return { kind: 'troubleshoot', error: described };
  }
  return {
    kind: 'retry',
    delayMs: backoffDelay(policy.backoff, attempt, random),
    error: described,
  };
}

/** The delay before attempt `attempt + 1`. */
export function backoffDelay(backoff: Backoff, attempt: number, random: () => number): number {
  switch (backoff.type) {
    case 'fixed':
      return toMillis(backoff.delay, 'backoff.delay');
    case 'schedule': {
      if (backoff.delays.length === 0) return 0;
      const index = Math.min(attempt - 1, backoff.delays.length - 1);
      return toMillis(backoff.delays[index]!, `backoff.delays[${index}]`);
    }
    case 'exponential': {
      const base = toMillis(backoff.base, 'backoff.base');
      const max = toMillis(backoff.max, 'backoff.max');
      const capped = Math.min(max, base * 2 ** Math.min(attempt - 1, 52));
      // Full jitter spreads retries of many commands that failed together (thundering herd).
      return backoff.jitter === false ? capped : Math.round(capped * random());
    }
  }
}

/** Checks a policy once, at registration, so a bad one fails at start and not at 3 a.m. */
export function validateRetryPolicy(policy: RetryPolicy, path: string): void {
  if (!Number.isInteger(policy.maxAttempts) || policy.maxAttempts < 1) {
    throw new ValidationError(
      `${path}.maxAttempts must be a whole number of at least 1; got ${String(policy.maxAttempts)}`,
      `${path}.maxAttempts`,
    );
  }
  const b = policy.backoff;
  if (b.type === 'fixed') toMillis(b.delay, `${path}.backoff.delay`);
  else if (b.type === 'schedule')
    b.delays.forEach((d, i) => toMillis(d, `${path}.backoff.delays[${i}]`));
  else if (b.type === 'exponential') {
    toMillis(b.base, `${path}.backoff.base`);
    toMillis(b.max, `${path}.backoff.max`);
  } else {
    throw new ValidationError(
      `${path}.backoff.type must be 'fixed', 'schedule' or 'exponential'`,
      `${path}.backoff.type`,
    );
  }
}

/** Longest snooze: a year. A longer or unreadable delay would not fit the stores' run time. */
const MAX_SNOOZE_MS = 365 * 24 * 3600 * 1000;

/** A snooze's delay made one every store can hold: NaN, negative or unreadable is 0. */
function snoozeDelay(error: SnoozeError): number {
  let delayMs: unknown;
  try {
    delayMs = error.delayMs;
  } catch {
    return 0;
  }
  if (typeof delayMs !== 'number' || !(delayMs > 0)) return 0;
  return Math.min(MAX_SNOOZE_MS, Math.round(delayMs));
}
