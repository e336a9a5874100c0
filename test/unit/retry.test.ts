import { describe, expect, it } from 'vitest';
import { PermanentError, SnoozeError, TransientError } from '../../src/core/errors.js';
import {
  backoffDelay,
  decideFailure,
  DEFAULT_RETRY_POLICY,
  validateRetryPolicy,
} from '../../src/core/retry.js';

const fixedRandom = () => 0.5;

describe('retry policy', () => {
  it('retries transient and unknown errors while attempts remain, then troubleshoots', () => {
    const policy = { maxAttempts: 3, backoff: { type: 'fixed', delay: '10s' } } as const;
    expect(decideFailure(new TransientError('x'), 1, 3, policy)).toMatchObject({
      kind: 'retry',
      delayMs: 10_000,
    });
    expect(decideFailure(new Error('x'), 2, 3, policy)).toMatchObject({
      kind: 'retry',
      error: { code: 'ERROR', message: 'x' },
    });
    expect(decideFailure(new Error('x'), 3, 3, policy)).toMatchObject({ kind: 'troubleshoot' });
  });

  it('troubleshoots a permanent error at once, keeping its code and details', () => {
    const error = new PermanentError('declined', { code: 'DECLINED', details: { card: '4242' } });
    expect(decideFailure(error, 1, 10, DEFAULT_RETRY_POLICY)).toEqual({
      kind: 'troubleshoot',
      error: { code: 'DECLINED', message: 'declined', details: { card: '4242' } },
    });
  });

  it('releases a snooze without judging attempts', () => {
    expect(decideFailure(new SnoozeError(5000, 'later'), 9, 9, DEFAULT_RETRY_POLICY)).toEqual({
      kind: 'release',
      delayMs: 5000,
      reason: 'later',
    });
  });

  it('follows an explicit schedule and repeats its last step', () => {
    const schedule = { type: 'schedule', delays: ['10s', '60s', '300s'] } as const;
    expect([1, 2, 3, 4, 9].map((a) => backoffDelay(schedule, a, fixedRandom))).toEqual([
      10_000, 60_000, 300_000, 300_000, 300_000,
    ]);
  });

  it('grows exponentially up to the cap, with full jitter drawn from the injected random', () => {
    const exp = { type: 'exponential', base: 1000, max: 8000, jitter: false } as const;
    expect([1, 2, 3, 4, 5, 60].map((a) => backoffDelay(exp, a, fixedRandom))).toEqual([
      1000, 2000, 4000, 8000, 8000, 8000,
    ]);
    expect(backoffDelay({ ...exp, jitter: true }, 3, fixedRandom)).toBe(2000);
    expect(backoffDelay({ ...exp, jitter: true }, 3, () => 0)).toBe(0);
  });

  it('rejects a bad policy with a message that names the field', () => {
    expect(() =>
      validateRetryPolicy({ maxAttempts: 0, backoff: { type: 'fixed', delay: 1 } }, 'p'),
    ).toThrow(/p\.maxAttempts/);
    expect(() =>
      validateRetryPolicy({ maxAttempts: 1, backoff: { type: 'fixed', delay: 'soon' } }, 'p'),
    ).toThrow(/p\.backoff\.delay.*'soon'|"soon"/);
    expect(() =>
      validateRetryPolicy({ maxAttempts: 1, backoff: { type: 'schedule', delays: [1, -5] } }, 'p'),
    ).toThrow(/p\.backoff\.delays\[1\]/);
  });
});
