/** The Redis backend's memory of which domain holds an id: bounded, newest kept. */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { CommandLocator } from '../../src/backends/redis/locator.js';
import type { DomainKeys, GlobalKeys } from '../../src/backends/redis/keys.js';

// remember/cached/forget never touch Redis; find() (which does) is covered by the
// conformance suite on the real server.
const offline = () =>
  new CommandLocator(null as unknown as Redis, {} as GlobalKeys, () => ({}) as DomainKeys, 1000);

describe('CommandLocator memory', () => {
  it('keeps at least the last `capacity` ids and forgets older generations whole', () => {
    const locator = offline();
    for (let i = 0; i < 3500; i++) locator.remember(`id-${i}`, `d${i % 7}`);
    for (let i = 2500; i < 3500; i++) expect(locator.cached(`id-${i}`)).toBe(`d${i % 7}`);
    expect(locator.cached('id-0')).toBeUndefined();
    expect(locator.cached('id-1999')).toBeUndefined();
  });

  it('forgets an id from either generation', () => {
    const locator = offline();
    for (let i = 0; i < 1500; i++) locator.remember(`id-${i}`, 'd');
    locator.forget('id-10');
    locator.forget('id-1400');
    expect(locator.cached('id-10')).toBeUndefined();
    expect(locator.cached('id-1400')).toBeUndefined();
    expect(locator.cached('id-11')).toBe('d');
  });
});
