import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/core/errors.js';
import { createUuidv7, isUuid } from '../../src/core/ids.js';
import { storableText, toJsonText } from '../../src/core/json.js';

describe('payload serialisation', () => {
  it('serialises plain JSON and Dates', () => {
    expect(toJsonText({ a: [1, 'x', null, true], d: new Date(0) }, 'data')).toBe(
      '{"a":[1,"x",null,true],"d":"1970-01-01T00:00:00.000Z"}',
    );
  });

  it.each([
    [{ a: undefined }, 'data.a'],
    [{ a: [1, Infinity] }, 'data.a[1]'],
    [{ a: 2n }, 'data.a'],
    [{ a: Symbol('s') }, 'data.a'],
    [{ m: new Map() }, 'data.m'],
    [{ s: ['ok', 'nul \0 here'] }, 'data.s[1]'],
    [{ s: 'lone \ud83d' }, 'data.s'],
    [{ s: 'lone \ude00 low' }, 'data.s'],
    [{ 'k\0': 1 }, 'data.k\0'],
    [{ at: new Date(NaN) }, 'data.at'],
    [new Date(NaN), 'data'],
    [{ m: { toJSON: () => undefined } }, 'data.m'],
    [{ toJSON: () => undefined }, 'data'],
    [{ m: { toJSON: () => ({ n: NaN }) } }, 'data.m.n'],
    // eslint-disable-next-line no-sparse-arrays
    [{ list: [1, , 3] }, 'data.list[1]'],
    [{ list: [1, undefined] }, 'data.list[1]'],
  ])('refuses %o at %s', (value, path) => {
    const error = (() => {
      try {
        toJsonText(value, 'data');
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).path).toBe(path);
  });

  it('serialises what a toJSON method returns, called with its key as JSON.stringify does', () => {
    const money = { toJSON: (key: string) => ({ key, cents: 150 }) };
    expect(toJsonText({ price: money }, 'data')).toBe('{"price":{"key":"price","cents":150}}');
  });

  it('refuses, without looping, a toJSON that returns its own object', () => {
    const self = {
      n: 1,
      toJSON() {
        return this;
      },
    };
    expect(() => toJsonText({ self }, 'data')).toThrow(ValidationError);
  });

  it('refuses a cycle', () => {
    const a: Record<string, unknown> = {};
    a.self = a;
    expect(() => toJsonText(a, 'data')).toThrow(/data\.self.*cycle/);
  });

  it('keeps text that only looks like an escape, and well-formed pairs', () => {
    const value = { s: 'backslash-u \\u0000 and \\ud800', e: '😀' };
    expect(JSON.parse(toJsonText(value, 'data'))).toEqual(value);
  });

  it('makes text storable for what the worker writes itself', () => {
    expect(storableText('a\0b\ud800c😀')).toBe('a\uFFFDb\uFFFDc😀');
    expect(storableText('plain')).toBe('plain');
  });

  it('allows the same object twice when it is not a cycle', () => {
    const shared = { x: 1 };
    expect(toJsonText({ a: shared, b: shared }, 'data')).toBe('{"a":{"x":1},"b":{"x":1}}');
  });
});

describe('uuidv7', () => {
  it('makes valid, time-ordered ids', () => {
    const times = [1000, 2000, 3000];
    const make = createUuidv7(() => times.shift()!);
    const ids = [make(), make(), make()];
    for (const id of ids) expect(isUuid(id)).toBe(true);
    expect([...ids].sort()).toEqual(ids);
    expect(ids[0]![14]).toBe('7');
    expect(ids[0]!.slice(0, 13)).toBe('00000000-03e8');
  });

  it('keeps the ids of one millisecond, and of a clock that went back, in order', () => {
    let now = 5000;
    const make = createUuidv7(() => now);
    const ids = Array.from({ length: 10_000 }, (_, i) => {
      if (i === 6000) now = 4000;
      return make();
    });
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids)
      expect(isUuid(id) && id[14] === '7' && '89ab'.includes(id[19]!)).toBe(true);
    // 10,000 ids need at least three milliseconds of 4,096 at most.
    expect(new Set(ids.map((id) => id.slice(0, 13))).size).toBeGreaterThanOrEqual(3);
  });
});
