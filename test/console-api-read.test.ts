/**
 * The console API's reads on every store: the overview, throughput, commands (filters,
 * keyset pages, count, one with its surroundings), batches and workers; bad queries are a
 * 400 problem naming the field.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SAMPLE_BUCKET_MS } from '../src/backends/roles/samples.js';
import { consoleOnStore, troubledCommands } from './helpers/console.js';
import { everyStore } from './helpers/stores.js';

const stores = await everyStore('console_read');
type Json = Record<string, unknown>;
type CommandOut = { id: string; domain: string; state: string; data: unknown; createdAt: string };

for (const store of stores) {
  describe.runIf(store.available)(`console API reads: ${store.name}`, () => {
    const consoleOf = consoleOnStore(store);

    const domain = () => `rd-${randomUUID().slice(0, 8)}`;

    it('gives the overview: counts by domain, type and state, totals, the oldest due command, workers', async () => {
      const d = domain();
      await consoleOf().bus.sendMany([
        { domain: d, type: 'a', data: 1 },
        { domain: d, type: 'a', data: 2 },
        { domain: d, type: 'b', data: 3 },
      ]);
      await troubledCommands(consoleOf().bus, d, 1, { type: 'c' });
      const worker = consoleOf().bus.worker({ domains: ['none-here'], pollIntervalMs: 50 });
      await worker.start();
      try {
        const overview = await consoleOf().json<{
          counts: Json[];
          totals: Record<string, number>;
          oldestPending: { domain: string; ageSeconds: number; runAt: string }[];
          workers: Record<string, number>;
        }>('/api/overview');
        const mine = overview.counts.filter((c) => c.domain === d);
        expect(mine).toEqual(
          expect.arrayContaining([
            { domain: d, type: 'a', state: 'pending', count: 2 },
            { domain: d, type: 'b', state: 'pending', count: 1 },
            { domain: d, type: 'c', state: 'troubleshooting', count: 1 },
          ]),
        );
        expect(mine).toHaveLength(3);
        expect(overview.totals.pending).toBeGreaterThanOrEqual(3);
        expect(overview.totals.troubleshooting).toBeGreaterThanOrEqual(1);
        const oldest = overview.oldestPending.find((o) => o.domain === d);
        expect(oldest?.ageSeconds).toBeGreaterThanOrEqual(0);
        expect(Number.isNaN(Date.parse(oldest!.runAt))).toBe(false);
        expect(overview.workers.alive).toBeGreaterThanOrEqual(1);
        const { workers } = await consoleOf().json<{ workers: Json[] }>('/api/workers');
        expect(workers.find((w) => w.id === worker.workerId)).toMatchObject({
          status: 'alive',
          domains: ['none-here'],
          startedAt: expect.stringMatching(/Z$/) as unknown,
        });
      } finally {
        await worker.stop();
      }
    });

    it('gives the throughput samples the store keeps, in 10-second buckets', async () => {
      const d = domain();
      const at = new Date(Math.floor(Date.now() / SAMPLE_BUCKET_MS) * SAMPLE_BUCKET_MS - 60_000);
      await consoleOf().bus.backend.samples.recordSamples([
        { at, domain: d, completed: 7, failed: 2, retried: 1, troubleshooting: 1 },
      ]);
      const series = await consoleOf().json<{ bucketMs: number; samples: Json[] }>(
        `/api/throughput?minutes=5&domain=${d}`,
      );
      expect(series).toEqual({
        bucketMs: 10_000,
        samples: [
          {
            at: at.toISOString(),
            domain: d,
            completed: 7,
            failed: 2,
            retried: 1,
            troubleshooting: 1,
          },
        ],
      });
      const bad = await consoleOf().call('/api/throughput?minutes=0');
      expect(bad.status).toBe(400);
      expect(await bad.json()).toMatchObject({ title: 'ValidationError', field: 'minutes' });
    });

    it('lists commands newest first by default, a keyset page at a time, with filters', async () => {
      const d = domain();
      const sent = [];
      for (let i = 0; i < 5; i++)
        sent.push(await consoleOf().bus.send(d, 'page', { i, word: i === 3 ? 'Needle' : 'hay' }));
      const first = await consoleOf().json<{ commands: CommandOut[]; next: string | null }>(
        `/api/commands?domain=${d}&limit=2`,
      );
      expect(first.commands.map((c) => c.id)).toEqual([sent[4]!.id, sent[3]!.id]);
      expect(first.next).toBe(sent[3]!.id);
      const second = await consoleOf().json<{ commands: CommandOut[]; next: string | null }>(
        `/api/commands?domain=${d}&limit=2&after=${first.next}`,
      );
      expect(second.commands.map((c) => c.id)).toEqual([sent[2]!.id, sent[1]!.id]);
      const last = await consoleOf().json<{ commands: CommandOut[]; next: string | null }>(
        `/api/commands?domain=${d}&limit=2&after=${second.next}`,
      );
      expect(last).toMatchObject({ commands: [{ id: sent[0]!.id }], next: null });
      const asc = await consoleOf().json<{ commands: CommandOut[] }>(
        `/api/commands?domain=${d}&order=asc&limit=500`,
      );
      expect(asc.commands.map((c) => c.id)).toEqual(sent.map((c) => c.id));
      const text = await consoleOf().json<{ commands: CommandOut[] }>(
        `/api/commands?domain=${d}&text=needle`,
      );
      expect(text.commands.map((c) => c.id)).toEqual([sent[3]!.id]);
      expect(await consoleOf().json(`/api/commands/count?domain=${d}`)).toEqual({ count: 5 });
      expect(await consoleOf().json(`/api/commands/count?domain=${d}&text=needle`)).toEqual({
        count: 1,
      });
      expect(await consoleOf().json(`/api/commands/count?domain=${d}&state=completed`)).toEqual({
        count: 0,
      });
    });

    it('filters by error code, correlation id and creation time', async () => {
      const d = domain();
      const [broken] = await troubledCommands(consoleOf().bus, d, 1, { code: 'CARD_DECLINED' });
      const correlated = await consoleOf().bus.send(d, 'x', {}, { correlationId: 'order-42' });
      const page = (q: string) =>
        consoleOf().json<{ commands: CommandOut[] }>(`/api/commands?domain=${d}&${q}`);
      expect((await page('errorCode=CARD_DECLINED')).commands.map((c) => c.id)).toEqual([
        broken!.id,
      ]);
      expect((await page('correlationId=order-42')).commands.map((c) => c.id)).toEqual([
        correlated.id,
      ]);
      const after = encodeURIComponent(correlated.createdAt.toISOString());
      expect((await page(`createdAfter=${after}`)).commands.map((c) => c.id)).toEqual([
        correlated.id,
      ]);
      expect((await page(`createdBefore=${after}`)).commands.map((c) => c.id)).toEqual([
        broken!.id,
      ]);
    });

    it('refuses a bad query with a 400 problem naming the field', async () => {
      const cases: [string, string][] = [
        ['/api/commands?state=broken', 'state'],
        ['/api/commands?limit=0', 'limit'],
        ['/api/commands?limit=501', 'limit'],
        ['/api/commands?after=not-an-id', 'after'],
        ['/api/commands?createdAfter=yesterday', 'createdAfter'],
        ['/api/commands/count?batchId=42', 'batchId'],
        ['/api/batches?limit=x', 'limit'],
        ['/api/events?commands=nope', 'commands'],
      ];
      for (const [path, field] of cases) {
        const response = await consoleOf().call(path);
        expect(response.status, path).toBe(400);
        expect(response.headers.get('content-type')).toBe('application/problem+json');
        const problem = (await response.json()) as { title: string; field: string; detail: string };
        expect(problem, path).toMatchObject({ title: 'ValidationError', status: 400, field });
        expect(problem.detail).toContain(field);
      }
    });

    it('shows one command with its audit, causes, the commands it sent, its correlation and batch', async () => {
      const d = domain();
      const root = await consoleOf().bus.send(d, 'root', {}, { correlationId: `c-${d}` });
      const child = await consoleOf().bus.send(
        d,
        'child',
        {},
        { causationId: root.id, correlationId: `c-${d}` },
      );
      const grandchild = await consoleOf().bus.send(
        d,
        'grandchild',
        {},
        { causationId: child.id, correlationId: `c-${d}` },
      );
      const detail = await consoleOf().json<{
        command: CommandOut;
        audit: Json[];
        causes: CommandOut[];
        sent: CommandOut[];
        correlated: number;
        batch: unknown;
      }>(`/api/commands/${child.id}`);
      expect(detail.command.id).toBe(child.id);
      expect(detail.audit).toEqual([
        expect.objectContaining({ commandId: child.id, toState: 'pending' }),
      ]);
      expect(detail.causes.map((c) => c.id)).toEqual([root.id]);
      expect(detail.sent.map((c) => c.id)).toEqual([grandchild.id]);
      expect(detail.correlated).toBe(3);
      expect(detail.batch).toBeNull();
      const deep = await consoleOf().json<{ causes: CommandOut[] }>(
        `/api/commands/${grandchild.id}`,
      );
      expect(deep.causes.map((c) => c.id)).toEqual([child.id, root.id]);

      const batch = await consoleOf().bus.createBatch({
        name: 'nightly',
        commands: [{ domain: d, type: 'b', data: 1 }],
      });
      const [member] = await consoleOf().bus.list({ batchId: batch.id });
      const withBatch = await consoleOf().json<{ batch: Json }>(`/api/commands/${member!.id}`);
      expect(withBatch.batch).toMatchObject({
        id: batch.id,
        name: 'nightly',
        counts: { total: 1, pending: 1 },
      });

      for (const id of [randomUUID(), 'not-a-uuid']) {
        const missing = await consoleOf().call(`/api/commands/${id}`);
        expect(missing.status).toBe(404);
        expect(await missing.json()).toMatchObject({ title: 'CommandNotFoundError', status: 404 });
      }
    });

    it('lists batches newest first with their progress, and shows one', async () => {
      const d = domain();
      const older = await consoleOf().bus.createBatch({
        name: 'older',
        commands: [{ domain: d, type: 'b', data: 1 }],
      });
      const newer = await consoleOf().bus.createBatch({
        name: 'newer',
        commands: [
          { domain: d, type: 'b', data: 1 },
          { domain: d, type: 'b', data: 2 },
        ],
      });
      const first = await consoleOf().json<{ batches: Json[]; next: string | null }>(
        '/api/batches?limit=1',
      );
      expect(first.batches).toEqual([
        expect.objectContaining({ id: newer.id, name: 'newer', status: 'pending' }),
      ]);
      expect(first.batches[0]).toMatchObject({
        counts: { total: 2, pending: 2 },
        createdAt: expect.stringMatching(/Z$/) as unknown,
      });
      expect(first.next).toBe(newer.id);
      const second = await consoleOf().json<{ batches: Json[] }>(
        `/api/batches?limit=1&after=${first.next}`,
      );
      expect(second.batches[0]).toMatchObject({ id: older.id });
      expect(await consoleOf().json(`/api/batches/${older.id}`)).toMatchObject({
        id: older.id,
        counts: { total: 1 },
      });
      const missing = await consoleOf().call(`/api/batches/${randomUUID()}`);
      expect(missing.status).toBe(404);
      expect(await missing.json()).toMatchObject({ title: 'BatchNotFoundError' });
    });
  });
}
