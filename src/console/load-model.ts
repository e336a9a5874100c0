/**
 * The demo model's arithmetic: what a load of demo commands is expected to end as, and
 * which odds are valid. Pure, with no Node imports: the console's page imports it too, so
 * the calculator it shows before sending is the same model the demo handlers roll.
 *
 * Every attempt of a demo command rolls once: permanent failure (p), transient failure
 * (t), a hang until the timeout (o, a transient failure too), else success (s = 1-p-t-o)
 * after minMs..maxMs of work. With N attempts, attempt k+1 happens when the k before it
 * all failed transiently, with probability (t+o)^k.
 */

/** The odds of each outcome of a demo attempt, and how long a successful one works. */
export interface DemoOdds {
  permanentPct: number;
  transientPct: number;
  timeoutPct: number;
  minMs: number;
  maxMs: number;
}

/** The attempts of a demo command (its handlers' maxAttempts). */
export const DEMO_MAX_ATTEMPTS = 4;
/** The longest work a demo attempt may be given. */
export const DEMO_MAX_MS = 60_000;
/** The most demo commands one load sends. */
export const MAX_LOAD_COUNT = 1_000_000;

/** Long enough that no ordinary demo attempt reaches it; the "timeout" outcome waits it out. */
export function demoTimeoutMs(odds: Pick<DemoOdds, 'maxMs'>): number {
  return Math.max(1000, odds.maxMs * 2);
}

export interface ExpectedOutcomes {
  /** Commands expected to complete. */
  completed: number;
  /** Commands expected to end in troubleshooting, for either reason below. */
  troubleshooting: number;
  /** … after a permanent failure. */
  troubleshootingPermanent: number;
  /** … after failing transiently (or timing out) on every attempt. */
  troubleshootingExhausted: number;
  /** Attempts expected in all. */
  attempts: number;
  /** Attempts that fail transiently with attempts left, and so are retried. */
  retries: number;
  /** Attempts that time out. */
  timeouts: number;
  /** The mean time an attempt runs (work, or waiting out the timeout). */
  meanAttemptMs: number;
}

/**
 * What `count` demo commands are expected to end as under these odds, each with
 * `maxAttempts` attempts: completed = count·s·Σ_{k<N}(t+o)^k, troubleshooting after a
 * permanent failure = count·p·Σ_{k<N}(t+o)^k, after exhausting its attempts =
 * count·(t+o)^N. Expected values: fractions of a command are kept (to a millionth).
 */
export function expectedOutcomes(
  params: DemoOdds & { count: number; maxAttempts?: number | undefined },
): ExpectedOutcomes {
  const p = params.permanentPct / 100;
  const t = params.transientPct / 100;
  const o = params.timeoutPct / 100;
  const s = Math.max(0, 1 - p - t - o);
  const failAgain = t + o;
  const n = params.maxAttempts ?? DEMO_MAX_ATTEMPTS;
  // the expected attempts of one command: Σ_{k<N} (t+o)^k
  let attemptsEach = 0;
  for (let k = 0; k < n; k++) attemptsEach += failAgain ** k;
  const count = params.count;
  const permanent = count * p * attemptsEach;
  const exhausted = count * failAgain ** n;
  const attempts = count * attemptsEach;
  return {
    completed: rounded(count * s * attemptsEach),
    troubleshooting: rounded(permanent + exhausted),
    troubleshootingPermanent: rounded(permanent),
    troubleshootingExhausted: rounded(exhausted),
    attempts: rounded(attempts),
    retries: rounded(attempts - count),
    timeouts: rounded(attempts * o),
    meanAttemptMs: rounded(s * ((params.minMs + params.maxMs) / 2) + o * demoTimeoutMs(params)),
  };
}

/** To a millionth: expected values, without floating point's 750.0000000000001. */
function rounded(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

/** What is wrong with a load's parameters, naming the field; null when nothing is. */
export interface LoadProblem {
  field: string;
  message: string;
}

/** The first problem of these odds (percentages, durations), or null when they are valid. */
export function oddsProblem(odds: Partial<Record<keyof DemoOdds, unknown>>): LoadProblem | null {
  for (const field of ['permanentPct', 'transientPct', 'timeoutPct'] as const) {
    const value = odds[field];
    if (!isNumber(value) || value < 0 || value > 100) {
      return { field, message: `${field} must be a percentage from 0 to 100; got ${shown(value)}` };
    }
  }
  const total =
    (odds.permanentPct as number) + (odds.transientPct as number) + (odds.timeoutPct as number);
  if (total > 100) {
    return {
      field: 'permanentPct',
      message: `permanentPct + transientPct + timeoutPct must add up to at most 100; got ${total}`,
    };
  }
  for (const field of ['minMs', 'maxMs'] as const) {
    const value = odds[field];
    if (!isNumber(value) || !Number.isInteger(value) || value < 0 || value > DEMO_MAX_MS) {
      return {
        field,
        message: `${field} must be a whole number of milliseconds from 0 to ${DEMO_MAX_MS}; got ${shown(value)}`,
      };
    }
  }
  if ((odds.minMs as number) > (odds.maxMs as number)) {
    return {
      field: 'minMs',
      message: `minMs must not exceed maxMs; got ${shown(odds.minMs)} > ${shown(odds.maxMs)}`,
    };
  }
  return null;
}

/** The first problem of a load (its count, then its odds), or null when it is valid. */
export function loadProblem(
  params: Partial<Record<keyof DemoOdds | 'count', unknown>>,
): LoadProblem | null {
  const count = params.count;
  if (!isNumber(count) || !Number.isInteger(count) || count < 1 || count > MAX_LOAD_COUNT) {
    return {
      field: 'count',
      message: `count must be a whole number from 1 to ${MAX_LOAD_COUNT.toLocaleString('en')}; got ${shown(count)}`,
    };
  }
  return oddsProblem(params);
}

function isNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function shown(value: unknown): string {
  if (typeof value === 'number') return String(value); // NaN and Infinity as such
  if (value === undefined) return 'nothing';
  try {
    return JSON.stringify(value) ?? typeof value;
  } catch {
    return typeof value;
  }
}
