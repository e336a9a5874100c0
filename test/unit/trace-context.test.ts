import { describe, expect, it } from 'vitest';
import { followUpHeaders, HEADER_LIMITS } from '../../src/core/headers.js';
import { traceIdOf, withTrace } from '../../src/core/tracing.js';

const TRACEPARENT = `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01`;

describe('trace context in headers', () => {
  it('a traced follow-up leaves the traceparent pair out and still inherits baggage', () => {
    const parent = { traceparent: TRACEPARENT, tracestate: 'v=1', baggage: 'user=7', tenant: 'a' };
    expect(followUpHeaders(parent, undefined, false)).toEqual({ baggage: 'user=7' });
    expect(followUpHeaders(parent, { 'x-own': '1' }, false)).toEqual({
      baggage: 'user=7',
      'x-own': '1',
    });
    expect(followUpHeaders({ traceparent: TRACEPARENT }, undefined, false)).toBeUndefined();
  });

  it('adds the carrier to headers without a traceparent; the given headers win', () => {
    const carrier = { traceparent: TRACEPARENT, baggage: 'from=context' };
    expect(withTrace(undefined, carrier)).toEqual(carrier);
    expect(withTrace(undefined, carrier)).not.toBe(carrier);
    expect(withTrace({ baggage: 'mine' }, carrier)).toEqual({
      traceparent: TRACEPARENT,
      baggage: 'mine',
    });
    const own = { traceparent: `00-${'3'.repeat(32)}-${'4'.repeat(16)}-01` };
    expect(withTrace(own, carrier)).toBe(own);
  });

  it('leaves headers already at their limit as they are rather than break it', () => {
    const full = Object.fromEntries(
      Array.from({ length: HEADER_LIMITS.entries }, (_, i) => [`h${i}`, 'x']),
    );
    expect(withTrace(full, { traceparent: TRACEPARENT })).toBe(full);
  });

  it("reads the trace id of a command's traceparent for its log lines", () => {
    expect(traceIdOf({ traceparent: TRACEPARENT }, null)).toBe('1'.repeat(32));
    expect(traceIdOf({}, null)).toBeUndefined();
    expect(traceIdOf({ traceparent: 'garbage' }, null)).toBeUndefined();
    expect(traceIdOf({ traceparent: `00-${'0'.repeat(32)}-${'2'.repeat(16)}-01` }, null)).toBe(
      undefined,
    );
  });
});
