/**
 * The console's background job runner: progress reaches listeners a few times a second
 * at most and once at the end; a cancel stops a job; a job that throws fails with a
 * readable error and no unhandled rejection; the latest 50 finished jobs are kept; close
 * cancels the running ones and waits for them.
 */
import { once } from 'node:events';
import { setImmediate as nextTurn } from 'node:timers/promises';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createJobRunner, FINISHED_JOBS_KEPT } from '../../src/console/jobs.js';
import type { JobControl, JobRunner, JobSnapshot } from '../../src/console/types.js';
import { ValidationError } from '../../src/core/errors.js';

const runners: JobRunner[] = [];
function runner(): JobRunner {
  const jobs = createJobRunner(pino({ level: 'silent' }));
  runners.push(jobs);
  return jobs;
}
afterEach(async () => {
  await Promise.all(runners.splice(0).map((r) => r.close()));
});

/** Resolves with the next change of job `id` that satisfies `until`. */
function change(jobs: JobRunner, id: () => string, until: (j: JobSnapshot) => boolean) {
  return new Promise<JobSnapshot>((resolve) => {
    const off = jobs.onChange((j) => {
      if (j.id === id() && until(j)) {
        off();
        resolve(j);
      }
    });
  });
}

const base = { kind: 'bulk-action' as const, label: 'test job', total: 100, actor: 'ann' };

describe('the job runner', () => {
  it('tells progress at most every 250 ms, the latest progress after a burst, and the end', async () => {
    const jobs = runner();
    const seen: JobSnapshot[] = [];
    jobs.onChange((j) => seen.push(j));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const job = jobs.start({
      ...base,
      run: async (control) => {
        for (let i = 1; i <= 100; i++) control.progress(i, Math.floor(i / 10));
        await released;
        return { applied: 90 };
      },
    });
    expect(job).toMatchObject({
      state: 'running',
      done: 0,
      total: 100,
      actor: 'ann',
      result: null,
    });
    const trailing = await change(
      jobs,
      () => job.id,
      (j) => j.done === 100,
    );
    expect(trailing).toMatchObject({ state: 'running', failed: 10 });
    release();
    const end = await change(
      jobs,
      () => job.id,
      (j) => j.state !== 'running',
    );
    expect(end).toMatchObject({ state: 'done', done: 100, result: { applied: 90 }, error: null });
    expect(end.finishedAt).not.toBeNull();
    // the start, one trailing progress for the burst of 100, the end
    expect(seen.map((j) => [j.state, j.done])).toEqual([
      ['running', 0],
      ['running', 100],
      ['done', 100],
    ]);
    expect(jobs.get(job.id)).toEqual(end);
  });

  it('keeps to about 4 progress changes a second while a job reports all the time', async () => {
    const jobs = runner();
    let told = 0;
    jobs.onChange(() => told++);
    const started = Date.now();
    const job = jobs.start({
      ...base,
      run: async (control) => {
        for (let i = 0; Date.now() - started < 1000; i++) {
          control.progress(i);
          await nextTurn();
        }
      },
    });
    await change(
      jobs,
      () => job.id,
      (j) => j.state === 'done',
    );
    const seconds = (Date.now() - started) / 1000;
    // start + end + at most one per 250 ms (timers may run a little late, never early)
    expect(told).toBeLessThanOrEqual(2 + Math.ceil(seconds * 4));
    expect(told).toBeGreaterThanOrEqual(4);
  });

  it('cancels a running job through its signal; a finished or unknown one is not cancelled', async () => {
    const jobs = runner();
    let reached = 0;
    const job = jobs.start({
      ...base,
      run: async (control: JobControl) => {
        reached = 1;
        await once(control.signal, 'abort');
        reached = 2;
        return 'stopped';
      },
    });
    await nextTurn();
    expect(reached).toBe(1);
    const ended = change(
      jobs,
      () => job.id,
      (j) => j.state !== 'running',
    );
    expect(jobs.cancel(job.id)).toBe(true);
    expect(await ended).toMatchObject({ state: 'cancelled', error: null });
    expect(reached).toBe(2);
    expect(jobs.cancel(job.id)).toBe(false);
    expect(jobs.cancel('no-such-job')).toBe(false);
  });

  it('fails a job whose body rejects or throws, with a readable error and no unhandled rejection', async () => {
    const jobs = runner();
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      let rejecting = '';
      const rejected = change(
        jobs,
        () => rejecting,
        (j) => j.state !== 'running',
      );
      rejecting = jobs.start({
        ...base,
        run: async () => {
          await nextTurn();
          throw new ValidationError('reason must be text', 'reason');
        },
      }).id;
      expect(await rejected).toMatchObject({
        state: 'failed',
        error: 'ValidationError: reason must be text',
      });
      let throwing = '';
      const thrown = change(
        jobs,
        () => throwing,
        (j) => j.state !== 'running',
      );
      throwing = jobs.start({
        ...base,
        run: () => {
          throw new Error('at once');
        },
      }).id;
      expect(await thrown).toMatchObject({ state: 'failed', error: 'at once' });
      let odd = '';
      const oddly = change(
        jobs,
        () => odd,
        (j) => j.state !== 'running',
      );
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
      odd = jobs.start({ ...base, run: () => Promise.reject({ status: 500 }) }).id;
      expect((await oddly).error).toBe('the job\'s body rejected with {"status":500}');
      await nextTurn();
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('lists running jobs first, then the latest 50 finished, newest first', async () => {
    const jobs = runner();
    const ids: string[] = [];
    for (let i = 0; i < FINISHED_JOBS_KEPT + 5; i++) {
      const ended = change(
        jobs,
        () => ids[i]!,
        (j) => j.state === 'done',
      );
      ids.push(jobs.start({ ...base, label: `job ${i}`, run: () => Promise.resolve(i) }).id);
      await ended;
    }
    const running = jobs.start({ ...base, label: 'running', run: (c) => once(c.signal, 'abort') });
    const listed = jobs.list();
    expect(listed).toHaveLength(FINISHED_JOBS_KEPT + 1);
    expect(listed[0]!.id).toBe(running.id);
    expect(listed.slice(1).map((j) => j.id)).toEqual(ids.slice(5).reverse());
    expect(jobs.get(ids[4]!)).toBeUndefined();
    expect(jobs.get(ids[5]!)?.result).toBe(5);
  });

  it('close cancels the running jobs and waits until they have stopped', async () => {
    const jobs = createJobRunner(pino({ level: 'silent' }));
    let cleanedUp = false;
    let began!: () => void;
    const running = new Promise<void>((resolve) => (began = resolve));
    const job = jobs.start({
      ...base,
      run: async (control) => {
        const aborted = once(control.signal, 'abort');
        began();
        await aborted;
        await nextTurn();
        cleanedUp = true;
      },
    });
    await running;
    await jobs.close();
    expect(cleanedUp).toBe(true);
    expect(jobs.get(job.id)?.state).toBe('cancelled');
  });

  it('never starts the body of a job cancelled before it began', async () => {
    const jobs = runner();
    let ran = false;
    const job = jobs.start({
      ...base,
      run: () => {
        ran = true;
        return Promise.resolve();
      },
    });
    const ended = change(
      jobs,
      () => job.id,
      (j) => j.state !== 'running',
    );
    jobs.cancel(job.id);
    expect(await ended).toMatchObject({ state: 'cancelled' });
    expect(ran).toBe(false);
  });
});
