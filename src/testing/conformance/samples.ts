/**
 * The throughput samples role (src/backends/roles/samples.ts): writes of many workers to
 * one bucket add up, reads filter and order, retention drops old buckets; and a worker's
 * samples add up to what its commands did.
 */
import { describe, expect, it } from 'vitest';
import { PermanentError } from '../../core/errors.js';
import { SAMPLE_BUCKET_MS, type ThroughputSample } from '../../backends/roles/samples.js';
import { eventually, type SuiteContext } from './context.js';

const DAY_MS = 24 * 3600_000;

/** A recent bucket, `back` buckets before the current one (retention keeps recent ones). */
function bucket(back = 0): Date {
  const now = Date.now();
  return new Date(now - (now % SAMPLE_BUCKET_MS) - back * SAMPLE_BUCKET_MS);
}

function sample(at: Date, domain: string, completed: number, retried = 0, ts = 0) {
  return { at, domain, completed, failed: retried + ts, retried, troubleshooting: ts };
}

/** The counts of `samples` summed, per count. */
function sums(samples: ThroughputSample[]) {
  const total = { completed: 0, failed: 0, retried: 0, troubleshooting: 0 };
  for (const s of samples) {
    total.completed += s.completed;
    total.failed += s.failed;
    total.retried += s.retried;
    total.troubleshooting += s.troubleshooting;
  }
  return total;
}

export function sampleTests(ctx: SuiteContext): void {
  describe('throughput samples', () => {
    const store = () => ctx.backend.samples;

    it('adds up the samples of writers of the same bucket and domain, also in one write', async () => {
      const domain = ctx.domain();
      const at = bucket(3);
      await Promise.all([
        store().recordSamples([sample(at, domain, 5, 2, 1)]),
        store().recordSamples([sample(at, domain, 7, 0, 3), sample(bucket(2), domain, 1)]),
      ]);
      await store().recordSamples([sample(at, domain, 1), sample(at, domain, 0, 4)]);
      expect(await store().readSamples({ since: at, domain })).toEqual([
        sample(at, domain, 13, 6, 4),
        sample(bucket(2), domain, 1),
      ]);
    });

    it('reads from `since` on, of one domain or all, ordered by bucket then domain', async () => {
      const [a, b] = [ctx.domain('a'), ctx.domain('b')];
      await store().recordSamples([
        sample(bucket(5), b, 1),
        sample(bucket(4), b, 2),
        sample(bucket(4), a, 3),
        sample(bucket(6), a, 4),
      ]);
      const ours = (samples: ThroughputSample[]) =>
        samples.filter((s) => s.domain === a || s.domain === b);
      expect(ours(await store().readSamples({ since: bucket(6) }))).toEqual([
        sample(bucket(6), a, 4),
        sample(bucket(5), b, 1),
        sample(bucket(4), a, 3),
        sample(bucket(4), b, 2),
      ]);
      expect(ours(await store().readSamples({ since: bucket(5) }))).toEqual([
        sample(bucket(5), b, 1),
        sample(bucket(4), a, 3),
        sample(bucket(4), b, 2),
      ]);
      expect(await store().readSamples({ since: bucket(6), domain: a })).toEqual([
        sample(bucket(6), a, 4),
        sample(bucket(4), a, 3),
      ]);
      // every domain's samples, in order, whatever other tests wrote
      const all = await store().readSamples({ since: bucket(6) });
      const keys = all.map((s) => [s.at.getTime(), s.domain] as const);
      const sorted = keys.toSorted(([x, p], [y, q]) => x - y || (p < q ? -1 : p > q ? 1 : 0));
      expect(keys).toEqual(sorted);
    });

    it('reads nothing where there is nothing: a later `since`, an unknown domain, an empty write', async () => {
      const domain = ctx.domain();
      await store().recordSamples([]);
      expect(await store().readSamples({ since: new Date(Date.now() + DAY_MS) })).toEqual([]);
      expect(await store().readSamples({ since: new Date(0), domain })).toEqual([]);
    });

    it('drops samples older than 7 days (at prune or by expiry), and keeps younger ones', async () => {
      const domain = ctx.domain();
      const old = bucket(Math.ceil((8 * DAY_MS) / SAMPLE_BUCKET_MS));
      const young = bucket(Math.ceil((6 * DAY_MS) / SAMPLE_BUCKET_MS));
      await store().recordSamples([sample(old, domain, 1), sample(young, domain, 2)]);
      await ctx.backend.prune({ olderThanMs: 365 * DAY_MS, limit: 1000 });
      expect(await store().readSamples({ since: new Date(0), domain })).toEqual([
        sample(young, domain, 2),
      ]);
    });

    it("records a drain's outcomes in two workers: the sums are what happened", async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      const since = bucket();
      // n % 5 === 0 fails for good; n % 3 === 0 fails once (retried), then completes
      const failedOnce = new Set<number>();
      bus.handle(domain, 'T', (data: { n: number }) => {
        if (data.n % 5 === 0) throw new PermanentError('no', { code: 'NO' });
        if (data.n % 3 === 0 && !failedOnce.has(data.n)) {
          failedOnce.add(data.n);
          throw new Error('once');
        }
      });
      const n = 60;
      const items = Array.from({ length: n }, (_, i) => ({ domain, type: 'T', data: { n: i } }));
      const [one, two] = [
        await ctx.worker(bus, { concurrency: 4 }),
        await ctx.worker(bus, { concurrency: 4 }),
      ];
      await bus.sendMany(items);
      await eventually(async () => {
        const counts = await bus.countByState(domain);
        expect(counts.completed + counts.troubleshooting).toBe(n);
      });
      await Promise.all([one.stop(), two.stop()]);
      const permanent = items.filter((i) => i.data.n % 5 === 0).length;
      const retried = items.filter((i) => i.data.n % 5 !== 0 && i.data.n % 3 === 0).length;
      expect(sums(await store().readSamples({ since, domain }))).toEqual({
        completed: n - permanent,
        failed: retried + permanent,
        retried,
        troubleshooting: permanent,
      });
      // each worker counted its own part, and the two parts add up to the stats
      expect(one.stats.completed + two.stats.completed).toBe(n - permanent);
    });

    it('records nothing from a worker with samples: false', async () => {
      const bus = ctx.bus();
      const domain = ctx.domain();
      const since = bucket();
      bus.handle(domain, 'T', () => 'ok');
      const worker = await ctx.worker(bus, { samples: false });
      const sent = await bus.send(domain, 'T', {});
      await eventually(async () => expect((await bus.get(sent.id)).state).toBe('completed'));
      await worker.stop();
      expect(await store().readSamples({ since, domain })).toEqual([]);
    });
  });
}
