/**
 * The pure parts of dispatchbox/streams: reading an envelope (and saying what is wrong with
 * a message that is not one), the local cache in front of a dedup store, and the defaults
 * and checks of a consumer's options.
 */
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/core/errors.js';
import { readEnvelope, toOutgoing } from '../../src/streams/codec.js';
import { checkConsume } from '../../src/streams/consume-options.js';
import { CachedDedup, type DedupStore } from '../../src/streams/index.js';
import type { TransportMessage } from '../../src/streams/transport.js';

const message = (value: string): TransportMessage => ({
  topic: 'orders',
  key: 'k',
  value,
  headers: {},
  position: '1-0',
  deliveryCount: 1,
  orderKey: 'orders\u0000k',
});

describe('envelopes', () => {
  const envelope = {
    id: '0193a0c4-0000-7000-8000-000000000001',
    type: 'order.placed',
    time: '2026-12-08T00:00:00.000Z',
    source: 'shop',
    key: 'k',
    correlationId: null,
    causationId: null,
    headers: { 'x-tenant': 't1' },
    data: { n: 1 },
  };

  it('writes an envelope as JSON with its id as a header, and reads it back unchanged', () => {
    const out = toOutgoing('orders', envelope);
    expect(out).toMatchObject({
      topic: 'orders',
      key: 'k',
      id: envelope.id,
      headers: { 'x-tenant': 't1', 'event-id': envelope.id },
    });
    expect(readEnvelope(message(out.value))).toEqual(envelope);
  });

  it('says what is wrong with a message that is not an envelope', () => {
    expect(() => readEnvelope(message('not json'))).toThrow(/orders 1-0 is not JSON/);
    expect(() => readEnvelope(message(JSON.stringify({ ...envelope, id: undefined })))).toThrow(
      /is not a Dispatchbox envelope: id/,
    );
    expect(() => readEnvelope(message(JSON.stringify({ ...envelope, headers: { a: 1 } })))).toThrow(
      ValidationError,
    );
  });
});

describe('the dedup cache', () => {
  function countingStore(): DedupStore & { asked: string[][] } {
    const kept = new Set<string>();
    const asked: string[][] = [];
    return {
      asked,
      seenEvents: (scope, ids) => {
        asked.push(ids);
        return Promise.resolve(new Set(ids.filter((id) => kept.has(`${scope}/${id}`))));
      },
      rememberEvents: (scope, ids) => {
        for (const id of ids) kept.add(`${scope}/${id}`);
        return Promise.resolve();
      },
    };
  }

  it('answers ids this process remembered without asking the store, per scope', async () => {
    const store = countingStore();
    const cache = new CachedDedup(store, 10);
    await cache.rememberEvents('g1', ['a', 'b'], 60_000);
    expect(await cache.seenEvents('g1', ['a', 'b', 'c'])).toEqual(new Set(['a', 'b']));
    expect(store.asked).toEqual([['c']]);
    expect(await cache.seenEvents('g2', ['a'])).toEqual(new Set());
  });

  it('forgets the oldest ids past its size, and expired ones, then asks the store', async () => {
    const store = countingStore();
    const cache = new CachedDedup(store, 2);
    await cache.rememberEvents('g', ['a', 'b', 'c'], 60_000);
    await cache.seenEvents('g', ['a', 'b', 'c']);
    expect(store.asked).toEqual([['a']]);
    await cache.rememberEvents('g', ['d'], -1); // already expired in the cache
    await cache.seenEvents('g', ['d']);
    expect(store.asked.at(-1)).toEqual(['d']);
  });
});

describe('consumer options', () => {
  const handler = () => {};

  it('fills in the defaults', () => {
    expect(checkConsume({ topics: ['a'], group: 'g', handler })).toMatchObject({
      concurrency: 16,
      maxInFlight: 400,
      batchSize: 100,
      pollWaitMs: 1000,
      claimIdleMs: 30_000,
      startAt: 'earliest',
    });
    expect(checkConsume({ topics: ['a'], group: 'g', handler, concurrency: 200 }).maxInFlight).toBe(
      800,
    );
  });

  it('refuses bad options, naming them', () => {
    expect(() => checkConsume({ topics: ['a'], group: 'g g', handler })).toThrow(/group must be/);
    expect(() => checkConsume({ topics: ['a'], group: 'g', handler, batchSize: 1.5 })).toThrow(
      /batchSize/,
    );
    expect(() => checkConsume({ topics: ['a'], group: 'g', handler, claimIdle: 'soon' })).toThrow(
      /claimIdle/,
    );
    expect(() =>
      checkConsume({ topics: ['a'], group: 'g', handler, startAt: 'now' as never }),
    ).toThrow(/startAt/);
  });
});
