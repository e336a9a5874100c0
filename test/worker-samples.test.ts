/**
 * The worker's throughput sampler on a real store: a write that fails keeps its counts
 * for the next write (not lost, not doubled), counts go to the bucket in which they
 * were counted, and a stop writes what is left.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createPGliteBackend } from '../src/backends/pglite/index.js';
import { SAMPLE_BUCKET_MS } from '../src/backends/roles/samples.js';
import type { SqlBackend } from '../src/backends/sql/sql-backend.js';
import { bucketOf, ThroughputSampler } from '../src/worker/throughput.js';

const backend: SqlBackend = await createPGliteBackend();
await backend.migrate();
afterAll(() => backend.close());

/** A logger whose lines are kept, parsed. */
function keptLogger() {
  const lines: { level: number; msg: string }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as { level: number; msg: string });
      done();
    },
  });
  return { logger: pino({ level: 'warn' }, stream), lines };
}

describe('the worker throughput sampler', () => {
  it('keeps the counts of a failed write and adds them to the next one, writing each once', async () => {
    const { logger, lines } = keptLogger();
    let failNext = true;
    // the real store, with one write refused as if the connection had dropped
    const store = {
      recordSamples: (samples: Parameters<typeof backend.samples.recordSamples>[0]) => {
        if (!failNext) return backend.samples.recordSamples(samples);
        failNext = false;
        return Promise.reject(new Error('connection lost'));
      },
      readSamples: backend.samples.readSamples.bind(backend.samples),
    };
    const sampler = new ThroughputSampler(store, logger);
    const since = new Date(bucketOf(Date.now()));
    for (let i = 0; i < 3; i++) sampler.completed('d1');
    sampler.retried('d1');
    sampler.troubleshooting('d2');
    expect(await sampler.write()).toBe(false);
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines.map((l) => l.msg)).toEqual([
      'throughput samples: writing them failed; they are kept and added to the next write',
    ]);
    sampler.completed('d1');
    expect(await sampler.write()).toBe(true);
    expect(await sampler.write()).toBe(true); // nothing new: writes nothing
    const read = await backend.samples.readSamples({ since });
    const total = (domain: string) =>
      read
        .filter((s) => s.domain === domain)
        .reduce(
          (t, s) => ({
            completed: t.completed + s.completed,
            failed: t.failed + s.failed,
            retried: t.retried + s.retried,
            troubleshooting: t.troubleshooting + s.troubleshooting,
          }),
          { completed: 0, failed: 0, retried: 0, troubleshooting: 0 },
        );
    expect(total('d1')).toEqual({ completed: 4, failed: 1, retried: 1, troubleshooting: 0 });
    expect(total('d2')).toEqual({ completed: 0, failed: 1, retried: 0, troubleshooting: 1 });
  });

  it('counts into the bucket in which the outcome happened, and writes the rest at stop', async () => {
    const sampler = new ThroughputSampler(backend.samples, pino({ level: 'silent' }));
    const first = bucketOf(Date.now()) + SAMPLE_BUCKET_MS; // the next bucket: nothing in it yet
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    try {
      vi.setSystemTime(first + 2000);
      sampler.start();
      sampler.completed('d3');
      sampler.completed('d3');
      vi.advanceTimersByTime(SAMPLE_BUCKET_MS); // past the boundary: the bucket closes
      sampler.completed('d3');
      sampler.retried('d3');
    } finally {
      vi.useRealTimers();
    }
    await sampler.stop();
    expect(await backend.samples.readSamples({ since: new Date(first), domain: 'd3' })).toEqual([
      {
        at: new Date(first),
        domain: 'd3',
        completed: 2,
        failed: 0,
        retried: 0,
        troubleshooting: 0,
      },
      {
        at: new Date(first + SAMPLE_BUCKET_MS),
        domain: 'd3',
        completed: 1,
        failed: 1,
        retried: 1,
        troubleshooting: 0,
      },
    ]);
  });
});
