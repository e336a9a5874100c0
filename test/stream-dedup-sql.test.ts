/**
 * The SQL stores' deduplication of stream events (roles/dedup.ts): ids remembered per
 * scope until their TTL, kept as they are when remembered again, remembered anew once
 * expired; expired rows purged by the writes and by the store's prune.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DedupStore } from '../src/backends/backend.js';
import { sqlAppStores, type AppStore } from './helpers/sql-app-stores.js';

const kinds = await sqlAppStores();

describe.each(kinds)('stream dedup: $name', ({ available, open, shutdown }) => {
  let store: AppStore;
  let dedup: DedupStore;
  const rows = async () =>
    (
      await store.backend.driver.query<{ scope: string; event_id: string; live: boolean }>(
        `SELECT scope, event_id, expires_at > clock_timestamp() AS live
         FROM "${store.backend.schema}".stream_dedup ORDER BY scope, event_id`,
      )
    ).rows;

  beforeEach(async () => {
    if (!available) return;
    store = await open();
    dedup = store.bus.backend.dedup!;
  });
  afterEach(async () => {
    if (available) await store.close();
  });
  afterAll(shutdown);

  it.runIf(available)('remembers ids per scope until their TTL', async () => {
    expect(await dedup.seenEvents('group-a', ['e1', 'e2'])).toEqual(new Set());
    expect(await dedup.seenEvents('group-a', [])).toEqual(new Set());
    await dedup.rememberEvents('group-a', ['e1', 'e2', 'e1'], 60_000); // a repeat in one call
    await dedup.rememberEvents('group-a', [], 60_000);
    expect(await dedup.seenEvents('group-a', ['e1', 'e2', 'e3'])).toEqual(new Set(['e1', 'e2']));
    // another consumer group has handled none of them
    expect(await dedup.seenEvents('group-b', ['e1', 'e2'])).toEqual(new Set());
    await dedup.rememberEvents('group-b', ['e2'], 60_000);
    expect(await dedup.seenEvents('group-b', ['e1', 'e2'])).toEqual(new Set(['e2']));
  });

  it.runIf(available)('an expired id is not seen, and is remembered anew', async () => {
    await dedup.rememberEvents('g', ['old'], 0); // expired as soon as written
    await dedup.rememberEvents('g', ['kept'], 60_000);
    expect(await dedup.seenEvents('g', ['old', 'kept'])).toEqual(new Set(['kept']));
    await dedup.rememberEvents('g', ['old'], 60_000);
    expect(await dedup.seenEvents('g', ['old'])).toEqual(new Set(['old']));
    // remembered again while live: kept as it was, not shortened
    await dedup.rememberEvents('g', ['kept'], 0);
    expect(await dedup.seenEvents('g', ['kept'])).toEqual(new Set(['kept']));
  });

  it.runIf(available)('expired rows are purged by later writes and by prune', async () => {
    await dedup.rememberEvents(
      'g',
      Array.from({ length: 150 }, (_, i) => `x${i}`),
      0,
    );
    await dedup.rememberEvents('g', ['live-1'], 60_000); // purges at least 100
    const left = await rows();
    expect(left.filter((r) => r.live).map((r) => r.event_id)).toEqual(['live-1']);
    expect(left.filter((r) => !r.live).length).toBeLessThanOrEqual(50);
    await store.backend.prune({ olderThanMs: 3_600_000, limit: 1000 });
    expect(await rows()).toEqual([{ scope: 'g', event_id: 'live-1', live: true }]);
  });
});
