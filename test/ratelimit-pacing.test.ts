/** How long refused commands wait: spaced by the limit, not piled up at one moment. */
import { describe, expect, it } from 'vitest';
import { BucketWaits, CapPacer } from '../src/ratelimit/pacing.js';

describe('BucketWaits', () => {
  it('holds commands back until the next token, one refill interval apart', () => {
    const waits = new BucketWaits();
    expect(waits.wait('api', 1000)).toBeNull();
    expect(waits.refused('api', 300, 100, 1000)).toBe(300);
    expect(waits.wait('api', 1000)).toBe(400);
    expect(waits.wait('api', 1100)).toBe(400);
    expect(waits.wait('other', 1100)).toBeNull();
    // Once the token is due, the next command asks the store again.
    expect(waits.wait('api', 1300)).toBeNull();
  });

  it('lets one command ask once the token is due; the others wait for its answer', () => {
    const waits = new BucketWaits();
    waits.refused('api', 300, 100, 1000);
    expect(waits.wait('api', 1300)).toBeNull();
    // Asking: the others wait one refill interval after another, without asking.
    expect(waits.wait('api', 1300)).toBe(100);
    expect(waits.wait('api', 1310)).toBe(200);
    // Granted: the bucket has tokens again, everyone may ask.
    waits.answered('api');
    expect(waits.wait('api', 1320)).toBeNull();
    expect(waits.wait('api', 1320)).toBeNull();
  });

  it('lets another command ask when the one that was to ask did not', () => {
    const waits = new BucketWaits();
    waits.refused('api', 300, 100, 1000);
    expect(waits.wait('api', 1300)).toBeNull();
    expect(waits.wait('api', 1300)).toBe(100);
    // e.g. its other bucket was empty: it never asked this one
    waits.unprobe('api');
    expect(waits.wait('api', 1300)).toBeNull();
  });
});

describe('CapPacer', () => {
  it('sends waiting commands back one expected slot turnover apart, asking the store between', () => {
    const pacer = new CapPacer(() => 0, 100);
    // 5 slots, runs of 100 ms: a slot frees every 20 ms.
    expect(pacer.refused('report', 5, 0)).toBe(20);
    expect(pacer.wait('report', 5, 10)).toBe(30);
    expect(pacer.wait('report', 5, 10)).toBe(50);
    expect(pacer.wait('report', 5, 25)).toBeNull();
    // Refused again by the store: to the back of this worker's line, at 80 ms.
    expect(pacer.refused('report', 5, 25)).toBe(55);
  });

  it('lets the next command ask at once when a slot of this worker frees, and learns run times', () => {
    const pacer = new CapPacer(() => 0, 100);
    pacer.refused('report', 1, 0);
    expect(pacer.wait('report', 1, 10)).not.toBeNull();
    pacer.freed('report', 600);
    expect(pacer.wait('report', 1, 10)).toBeNull();
    // The moving average moved towards 600 ms: 0.8 × 100 + 0.2 × 600.
    expect(pacer.refused('report', 1, 1000)).toBe(200);
  });
});
