import { describe, expect, it } from 'vitest';
import { describeError } from '../../src/core/describe-error.js';
import { PermanentError, SnoozeError, TransientError } from '../../src/core/errors.js';
import { decideFailure, DEFAULT_RETRY_POLICY } from '../../src/core/retry.js';

function revoked(): unknown {
  const { proxy, revoke } = Proxy.revocable(new Error('x'), {});
  revoke();
  return proxy;
}

function throwingGetter<T extends object>(target: T, key: string): T {
  return Object.defineProperty(target, key, {
    get() {
      throw Object.create(null);
    },
  });
}

describe('describeError', () => {
  it('describes any thrown value with a string code and a readable message, never throwing', () => {
    const values: unknown[] = [
      Object.create(null),
      {
        toString: () => {
          throw new Error('no');
        },
      },
      revoked(),
      throwingGetter(new Error('m'), 'message'),
      throwingGetter(new TransientError('t'), 'code'),
      undefined,
      null,
      '',
      Symbol('s'),
      10n,
      () => 1,
    ];
    for (const value of values) {
      const described = describeError(value);
      expect(typeof described.code).toBe('string');
      expect(described.message).toMatch(/\S/);
      // and the retry decision built on it does not throw either
      expect(decideFailure(value, 1, 1, DEFAULT_RETRY_POLICY).kind).toBe('troubleshoot');
    }
  });

  it('keeps what it can read: the code of an error whose message cannot be read', () => {
    const error = throwingGetter(new PermanentError('x', { code: 'DECLINED' }), 'message');
    expect(describeError(error)).toMatchObject({ code: 'DECLINED' });
    expect(describeError(revoked()).message).toMatch(/cannot be turned into text: .*revoked/);
  });

  it('cuts long messages and codes, and replaces details that are cyclic, unreadable or huge', () => {
    expect(describeError(new Error('x'.repeat(10_000))).message).toHaveLength(4001);
    expect(
      describeError(Object.assign(new Error('c'), { code: 'C'.repeat(500) })).code,
    ).toHaveLength(201);
    expect(describeError(Object.assign(new Error('n'), { code: 7 })).code).toBe('ERROR');
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    const details = (d: unknown) =>
      describeError(new PermanentError('d', { details: d as never })).details;
    expect(details(cyclic)).toEqual({ unstorable: expect.stringMatching(/cycle/) as unknown });
    expect(details({ big: 'x'.repeat(70_000) })).toEqual({
      unstorable: expect.stringMatching(/over the limit of 65536/) as unknown,
    });
    expect(
      describeError(throwingGetter(new PermanentError('g', { details: 1 }), 'details')).details,
    ).toEqual({ unstorable: expect.stringMatching(/details cannot be read/) as unknown });
  });

  it('gives a snooze with an unusable delay none', () => {
    const snooze = (delayMs: number) =>
      decideFailure(new SnoozeError(delayMs), 1, 1, DEFAULT_RETRY_POLICY);
    expect(snooze(Number.NaN)).toMatchObject({ kind: 'release', delayMs: 0 });
    expect(snooze(-5)).toMatchObject({ kind: 'release', delayMs: 0 });
    expect(snooze(1500)).toMatchObject({ kind: 'release', delayMs: 1500 });
  });
});
