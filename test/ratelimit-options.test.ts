/** Bad rate limit and concurrency cap options: a clear error, and nothing registered. */
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../src/core/errors.js';
import { HandlerRegistry, type HandlerOptions } from '../src/core/registry.js';

const noop = () => undefined;

function refused(options: HandlerOptions, message: RegExp): void {
  const registry = new HandlerRegistry();
  expect(() => registry.register('billing', 'Charge', options, noop)).toThrow(ConfigurationError);
  expect(() => registry.register('billing', 'Charge', options, noop)).toThrow(message);
  expect(registry.get('billing', 'Charge')).toBeUndefined();
}

describe('rate limit options', () => {
  it('accepts a named bucket, a per-tenant key function, several limits and a global cap', () => {
    const registry = new HandlerRegistry();
    registry.register(
      'billing',
      'Charge',
      {
        rateLimit: [
          { key: 'stripe', limit: 10, per: '1m' },
          {
            key: (c) => `tenant:${String((c.data as { tenant: string }).tenant)}`,
            limit: 1,
            per: 1000,
            burst: 5,
          },
        ],
        globalConcurrency: 5,
      },
      noop,
    );
    const limits = registry.get('billing', 'Charge')!.limits!;
    expect(limits.rateLimits[0]).toEqual({ key: 'stripe', limit: 10, perMs: 60_000, capacity: 10 });
    expect(limits.rateLimits[1]).toMatchObject({ limit: 1, perMs: 1000, capacity: 5 });
    expect(limits.globalConcurrency).toEqual({ key: 'billing/Charge', limit: 5 });
    expect(registry.rateLimits.get('stripe')).toEqual({ limit: 10, perMs: 60_000, capacity: 10 });
  });

  it('leaves handlers without limits without any (nothing to check before a start)', () => {
    const registry = new HandlerRegistry();
    registry.register('billing', 'Refund', {}, noop);
    expect(registry.get('billing', 'Refund')!.limits).toBeNull();
  });

  it('refuses a limit that is not a whole number of at least 1', () => {
    refused(
      { rateLimit: { key: 'api', limit: 0, per: '1s' } },
      /handler billing\/Charge: rateLimit\.limit must be a whole number of at least 1.*got 0/,
    );
    refused({ rateLimit: { key: 'api', limit: 2.5, per: '1s' } }, /rateLimit\.limit .*got 2\.5/);
    refused({ rateLimit: { key: 'api', per: '1s' } as never }, /rateLimit\.limit .*got undefined/);
  });

  it('refuses a period that is not a positive duration', () => {
    refused(
      { rateLimit: { key: 'api', limit: 1, per: 'soon' } },
      /rateLimit\.per must be a positive duration such as '1s', '1m'.*got "soon"/,
    );
    refused({ rateLimit: { key: 'api', limit: 1, per: 0 } }, /rateLimit\.per .*got 0/);
    refused({ rateLimit: { key: 'api', limit: 1, per: -5 } }, /rateLimit\.per .*got -5/);
    refused({ rateLimit: { key: 'api', limit: 1 } as never }, /rateLimit\.per .*got undefined/);
  });

  it('refuses a bad burst or key, naming the item of a list', () => {
    refused(
      { rateLimit: { key: 'api', limit: 1, per: '1s', burst: 0 } },
      /rateLimit\.burst must be a whole number/,
    );
    refused(
      { rateLimit: { key: '', limit: 1, per: '1s' } },
      /rateLimit\.key must be a name of 1-200 characters/,
    );
    refused({ rateLimit: { key: 42, limit: 1, per: '1s' } as never }, /rateLimit\.key .*got 42/);
    refused(
      {
        rateLimit: [
          { key: 'a', limit: 1, per: '1s' },
          { key: 'b', limit: 0, per: '1s' },
        ],
      },
      /handler billing\/Charge: rateLimit\[1\]\.limit/,
    );
    refused(
      { rateLimit: 'fast' as never },
      /rateLimit must be an object such as \{ limit: 10, per: '1m' \}/,
    );
  });

  it('refuses a global cap that is not a whole number of at least 1', () => {
    refused(
      { globalConcurrency: 0 },
      /handler billing\/Charge: globalConcurrency must be a whole number of at least 1.*got 0/,
    );
    refused({ globalConcurrency: 2.5 }, /globalConcurrency .*got 2\.5/);
    refused({ globalConcurrency: '5' as never }, /globalConcurrency .*got "5"/);
  });

  it('refuses a second spec for a bucket already defined, keeping the first handler as it was', () => {
    const registry = new HandlerRegistry();
    registry.register('crm', 'Sync', { rateLimit: { key: 'crm-api', limit: 10, per: '1m' } }, noop);
    expect(() =>
      registry.register(
        'crm',
        'Export',
        { rateLimit: { key: 'crm-api', limit: 20, per: '1m' } },
        noop,
      ),
    ).toThrow(
      /rate limit "crm-api" is already defined as 10 per 60000 ms, burst 10; got 20 per 60000 ms/,
    );
    expect(registry.get('crm', 'Export')).toBeUndefined();
    expect(registry.rateLimits.get('crm-api')).toEqual({ limit: 10, perMs: 60_000, capacity: 10 });
    // The same spec again is fine: several handlers may share one API's bucket.
    registry.register(
      'crm',
      'Export',
      { rateLimit: { key: 'crm-api', limit: 10, per: 60_000 } },
      noop,
    );
  });

  it('refuses a bad named definition for mid-handler calls', () => {
    const registry = new HandlerRegistry();
    expect(() => registry.rateLimits.define('geo', { limit: 1, per: 'soon' })).toThrow(
      /rate limit "geo"\.per must be a positive duration/,
    );
    expect(registry.rateLimits.get('geo')).toBeUndefined();
  });
});
