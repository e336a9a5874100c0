/**
 * Error fingerprints: what varies between commands (ids, numbers, addresses, quoted
 * values) is masked so that errors of one cause group together, and different causes do not.
 */
import { describe, expect, it } from 'vitest';
import { fingerprint, maskMessage } from '../../src/console/fingerprint.js';

describe('fingerprints of errors', () => {
  it('groups messages that differ only in ids and numbers', () => {
    const a = fingerprint({ code: 'ORDER', message: 'order 123 failed for 5f0c9a3e77' });
    const b = fingerprint({ code: 'ORDER', message: 'order 456 failed for 77aa01bc0042' });
    expect(a).toEqual(b);
    expect(a).toEqual({
      fingerprint: expect.stringMatching(/^[0-9a-f]{12}$/) as unknown,
      code: 'ORDER',
      message: 'order <n> failed for <hex>',
    });
  });

  it('masks UUIDs, e-mail addresses, times, quoted values and hex numbers', () => {
    expect(
      maskMessage(
        'command 01a2525a-acac-700f-9201-39509a3dd847 for ann.lee+x@example.co.uk at 2026-12-07T21:13:23.885Z: "ab 12" is \'bad\' (0xFF), `q`',
      ),
    ).toBe('command <uuid> for <email> at <time>: "<text>" is \'<text>\' (<hex>), `<text>`');
  });

  it('keeps words and apostrophes, and collapses spaces', () => {
    expect(maskMessage("  can't reach   the deadbeef  gateway; don't retry ")).toBe(
      "can't reach the deadbeef gateway; don't retry",
    );
  });

  it('tells different codes and different messages apart', () => {
    const base = fingerprint({ code: 'ORDER', message: 'order 1 failed' }).fingerprint;
    expect(fingerprint({ code: 'CARD', message: 'order 1 failed' }).fingerprint).not.toBe(base);
    expect(fingerprint({ code: 'ORDER', message: 'order 1 refused' }).fingerprint).not.toBe(base);
  });

  it('gives a command without an error a fingerprint of its own', () => {
    expect(fingerprint(null)).toMatchObject({ code: 'UNKNOWN', message: '' });
  });
});
