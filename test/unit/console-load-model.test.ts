/**
 * The demo model's arithmetic (the calculator the load generator shows) and the checks of
 * a load's parameters: exact expected values for inputs worked by hand.
 */
import { describe, expect, it } from 'vitest';
import { expectedOutcomes, loadProblem, oddsProblem } from '../../src/console/load-model.js';

const calm = { permanentPct: 0, transientPct: 0, timeoutPct: 0, minMs: 10, maxMs: 30 };

describe('expected outcomes of a demo load', () => {
  it('all complete at the first attempt when nothing fails', () => {
    expect(expectedOutcomes({ ...calm, count: 1000 })).toEqual({
      completed: 1000,
      troubleshooting: 0,
      troubleshootingPermanent: 0,
      troubleshootingExhausted: 0,
      attempts: 1000,
      retries: 0,
      timeouts: 0,
      meanAttemptMs: 20,
    });
  });

  it('permanent failures go to troubleshooting at once, whatever the attempts left', () => {
    const e = expectedOutcomes({ ...calm, permanentPct: 10, count: 1000 });
    expect(e.completed).toBeCloseTo(900, 9);
    expect(e.troubleshootingPermanent).toBeCloseTo(100, 9);
    expect(e.troubleshootingExhausted).toBe(0);
    expect(e.attempts).toBe(1000);
    expect(e.retries).toBe(0);
  });

  it('transient failures and timeouts are retried: a worked example with 4 attempts', () => {
    // p=0.1, t=0.3, o=0.2: t+o=0.5, s=0.4, Σ_{k<4} 0.5^k = 1.875
    const e = expectedOutcomes({
      count: 1000,
      permanentPct: 10,
      transientPct: 30,
      timeoutPct: 20,
      minMs: 100,
      maxMs: 300,
      maxAttempts: 4,
    });
    expect(e).toEqual({
      completed: 750, // 1000 · 0.4 · 1.875
      troubleshootingPermanent: 187.5, // 1000 · 0.1 · 1.875
      troubleshootingExhausted: 62.5, // 1000 · 0.5^4
      troubleshooting: 250,
      attempts: 1875,
      retries: 875,
      timeouts: 375, // 1875 · 0.2
      // 0.4 · 200 ms of work + 0.2 · 1000 ms waiting out the timeout (max(1000, 2·300))
      meanAttemptMs: 280,
    });
  });

  it('every attempt failing transiently exhausts them all', () => {
    const e = expectedOutcomes({ ...calm, transientPct: 100, count: 10, maxAttempts: 3 });
    expect(e).toMatchObject({
      completed: 0,
      troubleshootingExhausted: 10,
      attempts: 30,
      retries: 20,
    });
  });
});

describe('checks of a load', () => {
  const good = {
    count: 100,
    permanentPct: 5,
    transientPct: 10,
    timeoutPct: 1,
    minMs: 5,
    maxMs: 50,
  };

  it('takes a valid load', () => {
    expect(loadProblem(good)).toBeNull();
    expect(loadProblem({ ...good, count: 1_000_000 })).toBeNull();
  });

  it.each([
    [{ count: 0 }, 'count', 'count must be a whole number from 1 to 1,000,000; got 0'],
    [
      { count: 1_000_001 },
      'count',
      'count must be a whole number from 1 to 1,000,000; got 1000001',
    ],
    [{ count: 2.5 }, 'count', 'got 2.5'],
    [{ count: '10' }, 'count', 'got "10"'],
    [
      { permanentPct: -1 },
      'permanentPct',
      'permanentPct must be a percentage from 0 to 100; got -1',
    ],
    [{ timeoutPct: 101 }, 'timeoutPct', 'got 101'],
    [{ transientPct: Number.NaN }, 'transientPct', 'got NaN'],
    [
      { permanentPct: 50, transientPct: 40, timeoutPct: 20 },
      'permanentPct',
      'permanentPct + transientPct + timeoutPct must add up to at most 100; got 110',
    ],
    [{ maxMs: 60_001 }, 'maxMs', 'maxMs must be a whole number of milliseconds from 0 to 60000'],
    [{ minMs: -1 }, 'minMs', 'got -1'],
    [{ minMs: 60, maxMs: 50 }, 'minMs', 'minMs must not exceed maxMs; got 60 > 50'],
    [{ maxMs: undefined }, 'maxMs', 'got nothing'],
  ])('refuses %j, naming %s', (change, field, message) => {
    const problem = loadProblem({ ...good, ...change });
    expect(problem?.field).toBe(field);
    expect(problem?.message).toContain(message);
  });

  it('checks odds alone (what a demo command carries)', () => {
    expect(oddsProblem({ ...calm })).toBeNull();
    expect(oddsProblem({ ...calm, minMs: 'soon' })?.field).toBe('minMs');
  });
});
