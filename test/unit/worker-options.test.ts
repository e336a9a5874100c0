import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/core/errors.js';
import { resolveWorkerOptions } from '../../src/worker/options.js';

describe('worker options', () => {
  it("claims the store's claim size unless the worker names its own", () => {
    expect(resolveWorkerOptions({}, 100).claimBatchSize).toBe(100);
    expect(resolveWorkerOptions({}, 500).claimBatchSize).toBe(500);
    expect(resolveWorkerOptions({ claimBatchSize: 64 }, 100).claimBatchSize).toBe(64);
  });

  it.each([
    [{ claimBatchSize: 0 }, /claimBatchSize must be a positive number; got 0/],
    [{ concurrency: -1 }, /concurrency must be a positive number; got -1/],
    [{ prefetch: Number.NaN }, /prefetch must be zero or more; got NaN/],
  ])('refuses %o with a ConfigurationError naming the option', (options, message) => {
    expect(() => resolveWorkerOptions(options, 100)).toThrow(ConfigurationError);
    expect(() => resolveWorkerOptions(options, 100)).toThrow(message);
  });
});
