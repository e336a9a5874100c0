import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/core/errors.js';
import { checkHeaders, followUpHeaders, HEADER_LIMITS } from '../../src/core/headers.js';
import { buildNewCommand } from '../../src/core/send-options.js';

/** The ValidationError `fn` throws. */
function refusal(fn: () => unknown): ValidationError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return error as ValidationError;
  }
  throw new Error('expected a ValidationError, nothing was thrown');
}

describe('checkHeaders', () => {
  it('gives null for none, and a fresh object with names in lower case otherwise', () => {
    expect(checkHeaders(undefined)).toBeNull();
    expect(checkHeaders(null)).toBeNull();
    expect(checkHeaders({})).toBeNull();
    const given = { 'X-Request-Id': 'r1', traceparent: 'tp', empty: '' };
    const checked = checkHeaders(given);
    expect(checked).toEqual({ 'x-request-id': 'r1', traceparent: 'tp', empty: '' });
    expect(checked).not.toBe(given);
    expect(checkHeaders(Object.assign(Object.create(null) as object, { a: 'b' }))).toEqual({
      a: 'b',
    });
  });

  it('accepts every HTTP token character and refuses anything else in a name', () => {
    const token = "!#$%&'*+-.^_`|~09azAZ";
    expect(checkHeaders({ [token]: 'x' })).toEqual({ [token.toLowerCase()]: 'x' });
    for (const name of ['a b', 'a:b', 'a"b', 'a,b', 'é', 'a\u0000', '(x)', 'a/b', '']) {
      const error = refusal(() => checkHeaders({ [name]: 'x' }));
      expect(error.path).toBe(`headers[${JSON.stringify(name)}]`);
      expect(error.message).toContain('an HTTP field name');
    }
  });

  it('keeps a header named __proto__ as a header, not as the prototype', () => {
    const checked = checkHeaders(JSON.parse('{"__proto__": "x"}'))!;
    expect(Object.getPrototypeOf(checked)).toBe(Object.prototype);
    expect(Object.keys(checked)).toEqual(['__proto__']);
    expect(JSON.stringify(checked)).toBe('{"__proto__":"x"}');
  });

  it('holds each limit exactly, naming the header and the limit', () => {
    const { nameLength, valueLength, entries, totalBytes } = HEADER_LIMITS;
    expect(checkHeaders({ ['n'.repeat(nameLength)]: 'x' })).not.toBeNull();
    expect(refusal(() => checkHeaders({ ['n'.repeat(nameLength + 1)]: 'x' })).message).toContain(
      `1 to ${nameLength} characters`,
    );
    expect(checkHeaders({ v: 'v'.repeat(valueLength) })).not.toBeNull();
    const long = refusal(() => checkHeaders({ v: 'v'.repeat(valueLength + 1) }));
    expect([long.path, long.message]).toEqual([
      'headers["v"]',
      `headers["v"]: the value is ${valueLength + 1} characters, over the limit of ${valueLength}; put large values in the payload`,
    ]);
    const many = (n: number) =>
      Object.fromEntries(Array.from({ length: n }, (_, i) => [`h${i}`, 'x']));
    expect(Object.keys(checkHeaders(many(entries))!)).toHaveLength(entries);
    expect(refusal(() => checkHeaders(many(entries + 1))).message).toContain(
      `${entries + 1} headers, over the limit of ${entries} per command`,
    );
    // bytes of UTF-8: 'é' is two; five names of 1 byte and values that fill the rest
    const fill = (extra: number) => ({
      a: 'é'.repeat(2000),
      b: 'é'.repeat(2000),
      c: 'x'.repeat(4000),
      d: 'x'.repeat(4000),
      e: 'x'.repeat(totalBytes - 5 - 16_000 + extra),
    });
    expect(checkHeaders(fill(0))).not.toBeNull();
    const big = refusal(() => checkHeaders(fill(1)));
    expect([big.path, big.message]).toEqual([
      'headers',
      `headers: names and values come to ${totalBytes + 1} bytes, over the limit of ${totalBytes} bytes per command; put large metadata in the payload`,
    ]);
  });

  it('refuses values that are not text, or text no store can hold', () => {
    expect(refusal(() => checkHeaders({ n: 1 })).message).toContain('must be text; got number');
    expect(refusal(() => checkHeaders({ n: null })).message).toContain('got null');
    expect(refusal(() => checkHeaders({ n: ['a'] })).message).toContain('got an array');
    expect(refusal(() => checkHeaders({ n: 'a\u0000' })).message).toContain('U+0000');
    expect(refusal(() => checkHeaders({ n: 'a\udc00' })).message).toContain('surrogate');
    expect(checkHeaders({ n: 'tab\tnew\nline 🚀' })).toEqual({ n: 'tab\tnew\nline 🚀' });
  });

  it('refuses names that differ only in case, and what is not a plain object', () => {
    const twice = refusal(() => checkHeaders({ Tenant: 'a', tenant: 'b' }));
    expect([twice.path, twice.message]).toEqual([
      'headers["tenant"]',
      'headers["tenant"]: names are case-insensitive (kept in lower case), and "tenant" is given twice; give it once',
    ]);
    for (const [value, got] of [
      [[['a', 'b']], 'an array'],
      [new Map([['a', 'b']]), 'a Map instance'],
      ['a=b', 'string'],
      [1, 'number'],
    ] as const) {
      const error = refusal(() => checkHeaders(value, 'onComplete.headers'));
      expect(error.path).toBe('onComplete.headers');
      expect(error.message).toMatch(new RegExp(`plain object .*; got ${got}$`));
    }
  });

  it('is what a send checks: the command carries the checked headers, none when empty', () => {
    const send = (headers: unknown) =>
      buildNewCommand({
        domain: 'd',
        type: 't',
        dataJson: '{}',
        options: { headers: headers as Record<string, string> },
      });
    expect(send({ A: 'b' }).headers).toEqual({ a: 'b' });
    expect(send({}).headers).toBeUndefined();
    expect(send(undefined).headers).toBeUndefined();
    expect(refusal(() => send({ 'a b': 'x' })).path).toBe('headers["a b"]');
  });
});

describe('followUpHeaders', () => {
  const parent = { traceparent: 'tp', tracestate: 'ts', baggage: 'bg', tenant: 'acme' };

  it("gives the follow-up's own headers as they are when the parent has no trace context", () => {
    const own = { a: 'b' };
    expect(followUpHeaders({}, own)).toBe(own);
    expect(followUpHeaders({ tenant: 'acme' }, undefined)).toBeUndefined();
  });

  it('adds the trace context the follow-up does not name, and nothing else', () => {
    expect(followUpHeaders(parent, undefined)).toEqual({
      traceparent: 'tp',
      tracestate: 'ts',
      baggage: 'bg',
    });
    expect(followUpHeaders(parent, { x: 'y' })).toEqual({
      traceparent: 'tp',
      tracestate: 'ts',
      baggage: 'bg',
      x: 'y',
    });
    // traceparent and tracestate go together: naming either takes neither from the parent
    expect(followUpHeaders(parent, { TraceParent: 'mine' })).toEqual({
      baggage: 'bg',
      TraceParent: 'mine',
    });
    expect(followUpHeaders(parent, { tracestate: 'mine' })).toEqual({
      baggage: 'bg',
      tracestate: 'mine',
    });
    expect(followUpHeaders(parent, { BAGGAGE: 'mine' })).toEqual({
      traceparent: 'tp',
      tracestate: 'ts',
      BAGGAGE: 'mine',
    });
    expect(followUpHeaders({ traceparent: 'tp' }, undefined)).toEqual({ traceparent: 'tp' });
    expect(followUpHeaders({ baggage: 'bg' }, undefined)).toEqual({ baggage: 'bg' });
    // a tracestate without its traceparent describes no position in a trace
    expect(followUpHeaders({ tracestate: 'ts' }, undefined)).toBeUndefined();
  });

  it('leaves headers that are not an object for the send to refuse', () => {
    const wrong = 'traceparent=x' as unknown as Record<string, string>;
    expect(followUpHeaders(parent, wrong)).toBe(wrong);
    const refused = refusal(() => checkHeaders(followUpHeaders(parent, wrong)));
    expect(refused.path).toBe('headers');
  });
});
