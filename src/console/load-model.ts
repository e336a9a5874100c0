/**
 * The load generator's expected outcomes, computed before anything is sent: the same
 * model the demo handlers follow. Each attempt fails permanently with probability p,
 * transiently with t, times out with o, and succeeds with s = 1 - p - t - o; a transient
 * failure or a timeout is retried until the handler's max attempts N are spent.
 *   completed                = Σ_{k<N} (t+o)^k · s
 *   troubleshootingPermanent = Σ_{k<N} (t+o)^k · p
 *   troubleshootingExhausted = (t+o)^N
 * each times the count. Pure (no I/O) so the console page computes it as the sliders move.
 */

export interface LoadOdds {
  count: number;
  /** Percentages of attempts, 0 to 100, summing to at most 100. */
  permanentPct: number;
  transientPct: number;
  timeoutPct: number;
  /** The duration range of an attempt that does its work. */
  minMs: number;
  maxMs: number;
  /** The demo handlers' max attempts. */
  maxAttempts: number;
}

export interface ExpectedOutcomes {
  completed: number;
  troubleshooting: number;
  troubleshootingPermanent: number;
  troubleshootingExhausted: number;
  attempts: number;
  retries: number;
  timeouts: number;
  /** The mean time an attempt takes (timeouts wait out the handler's timeout). */
  meanAttemptMs: number;
}

/** How long a demo attempt that times out lasts (the demo handlers' timeout). */
export function demoTimeoutMs(maxMs: number): number {
  return Math.max(1000, maxMs * 2);
}

export function expectedOutcomes(odds: LoadOdds): ExpectedOutcomes {
  const p = odds.permanentPct / 100;
  const t = odds.transientPct / 100;
  const o = odds.timeoutPct / 100;
  const s = Math.max(0, 1 - p - t - o);
  const again = t + o;
  const n = Math.max(1, Math.floor(odds.maxAttempts));
  // Σ_{k<N} again^k: the expected number of attempts one command gets.
  let attemptsEach = 0;
  for (let k = 0; k < n; k++) attemptsEach += again ** k;
  const completed = odds.count * attemptsEach * s;
  const troubleshootingPermanent = odds.count * attemptsEach * p;
  const troubleshootingExhausted = odds.count * again ** n;
  const attempts = odds.count * attemptsEach;
  const attemptTotal = p + t + o + s;
  const meanAttemptMs =
    attemptTotal === 0
      ? 0
      : (s * ((odds.minMs + odds.maxMs) / 2) + o * demoTimeoutMs(odds.maxMs)) / attemptTotal;
  return {
    completed,
    troubleshooting: troubleshootingPermanent + troubleshootingExhausted,
    troubleshootingPermanent,
    troubleshootingExhausted,
    attempts,
    retries: attempts - odds.count,
    timeouts: attempts * o,
    meanAttemptMs,
  };
}
