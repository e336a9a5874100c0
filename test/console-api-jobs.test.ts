/**
 * The console API's jobs, troubleshooting groups and load generator on every store,
 * through createConsole with the real job runner: estimates, loads sent as background
 * jobs (bad input refused, nothing sent), a group's bulk action behind its count
 * confirmation, jobs listed, read and cancelled; the read-only role may not act.
 */
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../src/backends/backend.js';
import { createJobRunner } from '../src/console/jobs.js';
import type { JobRunner, JobSnapshot } from '../src/console/types.js';
import {
  openConsole,
  OPERATOR_TOKEN,
  troubledCommands,
  VIEWER_TOKEN,
  type ConsoleUnderTest,
} from './helpers/console.js';
import { everyStore } from './helpers/stores.js';

type Json = Record<string, unknown>;
const odds = { permanentPct: 10, transientPct: 30, timeoutPct: 20, minMs: 100, maxMs: 300 };

/** The job once it has ended. */
function ended(jobs: JobRunner, id: string): Promise<JobSnapshot> {
  return new Promise((resolve) => {
    const off = jobs.onChange((job) => {
      if (job.id === id && job.state !== 'running') {
        off();
        resolve(job);
      }
    });
    const now = jobs.get(id);
    if (now && now.state !== 'running') {
      off();
      resolve(now);
    }
  });
}

const stores = await everyStore('console_jobs');

for (const store of stores) {
  describe.runIf(store.available)(`console API jobs, groups and loads: ${store.name}`, () => {
    let backend: Backend;
    let api: ConsoleUnderTest;
    let jobs: JobRunner;

    beforeAll(async () => {
      backend = await store.open();
      jobs = createJobRunner(pino({ level: 'silent' }));
      api = openConsole(backend, { jobs });
    });
    afterAll(async () => {
      await api.close();
      await jobs.close();
      await store.destroy(backend);
      await backend.close();
    });

    const domain = () => `job-${randomUUID().slice(0, 8)}`;
    const query = (o: Record<string, number>) =>
      new URLSearchParams(
        Object.entries(o).map(([k, v]) => [k, String(v)] as [string, string]),
      ).toString();

    it('estimates the outcomes of a load', async () => {
      const { expected } = await api.json<{ expected: Json }>(
        `/api/load/estimate?${query({ count: 1000, ...odds })}`,
      );
      expect(expected).toEqual({
        completed: 750,
        troubleshooting: 250,
        troubleshootingPermanent: 187.5,
        troubleshootingExhausted: 62.5,
        attempts: 1875,
        retries: 875,
        timeouts: 375,
        meanAttemptMs: 280,
      });
      const once = await api.json<{ expected: Json }>(
        `/api/load/estimate?${query({ count: 1000, ...odds, maxAttempts: 1 })}`,
      );
      expect(once.expected).toMatchObject({ completed: 400, troubleshootingExhausted: 500 });
    });

    it('refuses a bad estimate with a 400 naming the field', async () => {
      const { maxMs: _left, ...noMax } = odds;
      const missing = await api.json<Json>(`/api/load/estimate?${query({ count: 5, ...noMax })}`, {
        status: 400,
      });
      expect(missing).toMatchObject({ title: 'ValidationError', field: 'maxMs' });
      const tooMuch = await api.json<Json>(
        `/api/load/estimate?${query({ count: 5, ...odds, permanentPct: 60 })}`,
        { status: 400 },
      );
      expect(tooMuch).toMatchObject({
        title: 'ValidationError',
        field: 'permanentPct',
        detail: 'permanentPct + transientPct + timeoutPct must add up to at most 100; got 110',
      });
    });

    it('sends a load as a background job: one batch of demo commands carrying their odds', async () => {
      const d = domain();
      const started = await api.json<{ job: JobSnapshot; expected: Json }>('/api/load', {
        body: { count: 25, ...odds, domain: d },
        status: 202,
      });
      expect(started.job).toMatchObject({ kind: 'load', total: 25, actor: 'local' });
      expect(started.expected).toMatchObject({ completed: 18.75 });
      const job = await ended(jobs, started.job.id);
      expect(job).toMatchObject({ state: 'done', done: 25, error: null });
      const { batchId } = job.result as { batchId: string };
      const batch = await api.json<{ counts: Json; name: string }>(`/api/batches/${batchId}`);
      expect(batch.counts).toMatchObject({ total: 25, pending: 25 });
      const { commands } = await api.json<{ commands: { data: Json }[] }>(
        `/api/commands?domain=${d}&limit=100`,
      );
      expect(commands).toHaveLength(25);
      expect(commands.every((c) => JSON.stringify(c.data.odds) === JSON.stringify(odds))).toBe(
        true,
      );
      expect(await api.json<JobSnapshot>(`/api/jobs/${job.id}`)).toEqual(job);
    });

    it('refuses a bad load with a 400 naming the field, sending nothing and starting no job', async () => {
      const d = domain();
      const before = jobs.list().length;
      for (const [body, field] of [
        [{ ...odds, count: 0 }, 'count'],
        [{ ...odds, count: 2_000_000 }, 'count'],
        [{ ...odds, count: 5, transientPct: 80 }, 'permanentPct'],
        [{ ...odds, count: 5, minMs: 400 }, 'minMs'],
        [{ ...odds, count: 5, colour: 'red' }, undefined],
        [{ ...odds, count: 5, domain: 'not a name' }, 'domain'],
      ] as const) {
        const problem = await api.json<Json>('/api/load', {
          body: { domain: d, ...body },
          status: 400,
        });
        expect(problem.title, JSON.stringify(body)).toBe('ValidationError');
        if (field) expect(problem.field, JSON.stringify(body)).toBe(field);
      }
      expect(await api.bus.count({ domain: d })).toBe(0);
      expect(jobs.list()).toHaveLength(before);
    });

    it('cancels a running load: the job ends cancelled and nothing was sent', async () => {
      const d = domain();
      const { job } = await api.json<{ job: JobSnapshot }>('/api/load', {
        body: { count: 100_000, ...odds, domain: d },
        status: 202,
      });
      const asked = await api.json<JobSnapshot>(`/api/jobs/${job.id}/cancel`, {
        method: 'POST',
        body: {},
      });
      expect(asked.id).toBe(job.id);
      expect(await ended(jobs, job.id)).toMatchObject({ state: 'cancelled' });
      expect(await api.bus.count({ domain: d })).toBe(0);
      const { jobs: listed } = await api.json<{ jobs: JobSnapshot[] }>('/api/jobs');
      expect(listed.find((j) => j.id === job.id)?.state).toBe('cancelled');
      // a finished job is returned as it is
      const again = await api.json<JobSnapshot>(`/api/jobs/${job.id}/cancel`, {
        method: 'POST',
        body: {},
      });
      expect(again.state).toBe('cancelled');
    });

    it('answers 404 for a job it does not have', async () => {
      const problem = await api.json<Json>('/api/jobs/no-such-job', { status: 404 });
      expect(problem).toMatchObject({
        status: 404,
        detail: expect.stringContaining('no job') as unknown,
      });
      await api.json('/api/jobs/no-such-job/cancel', { method: 'POST', body: {}, status: 404 });
    });

    it('groups troubleshooting and retries a group once its count is confirmed', async () => {
      const d = domain();
      await troubledCommands(api.bus, d, 3, { code: 'GATEWAY' });
      await troubledCommands(api.bus, d, 1, { code: 'QUOTA', type: 'other' });
      const listed = await api.json<{ groups: Json[]; scanned: number; truncated: boolean }>(
        `/api/troubleshooting/groups?domain=${d}`,
      );
      expect(listed).toMatchObject({ scanned: 4, truncated: false });
      expect(listed.groups.map((g) => [g.code, g.message, g.count, g.types])).toEqual([
        ['GATEWAY', 'command <uuid> broke', 3, ['job']],
        ['QUOTA', 'command <uuid> broke', 1, ['other']],
      ]);
      expect(listed.groups[0]!.oldestAt).toMatch(/^\d{4}-\d\d-\d\dT/);
      const fp = listed.groups[0]!.fingerprint as string;
      const path = `/api/troubleshooting/groups/${fp}/actions`;

      const unconfirmed = await api.call(path, { body: { action: 'retry', domain: d } });
      expect(unconfirmed.status).toBe(409);
      expect(unconfirmed.headers.get('content-type')).toContain('application/problem+json');
      expect(await unconfirmed.json()).toMatchObject({
        title: 'CountNotConfirmed',
        count: 3,
        detail: expect.stringContaining('expectedCount: 3') as unknown,
      });
      const stale = await api.json<Json>(path, {
        body: { action: 'retry', domain: d, expectedCount: 2 },
        status: 409,
      });
      expect(stale).toMatchObject({ count: 3 });
      expect(await api.bus.count({ domain: d, state: 'troubleshooting' })).toBe(4);

      const { job } = await api.json<{ job: JobSnapshot }>(path, {
        body: { action: 'retry', domain: d, expectedCount: 3, reason: 'gateway is back' },
        status: 202,
      });
      expect(job).toMatchObject({ kind: 'bulk-action', total: 3, actor: 'local' });
      expect(await ended(jobs, job.id)).toMatchObject({
        state: 'done',
        done: 3,
        failed: 0,
        result: { applied: 3, failed: 0 },
      });
      const pending = await api.bus.list({ domain: d, state: 'pending' });
      expect(pending).toHaveLength(3);
      expect((await api.bus.audit(pending[0]!.id)).at(-1)).toMatchObject({
        actor: 'local',
        reason: 'gateway is back',
      });
      await api.json(`/api/troubleshooting/groups/not-a-print/actions`, {
        body: { action: 'retry', expectedCount: 1 },
        status: 400,
      });
    });

    it('documents its routes in the OpenAPI document', async () => {
      const doc = await api.json<{ paths: Record<string, Record<string, unknown>> }>(
        '/api/openapi.json',
      );
      for (const [path, method] of [
        ['/jobs', 'get'],
        ['/jobs/{id}', 'get'],
        ['/jobs/{id}/cancel', 'post'],
        ['/troubleshooting/groups', 'get'],
        ['/troubleshooting/groups/{fingerprint}/actions', 'post'],
        ['/load/estimate', 'get'],
        ['/load', 'post'],
      ] as const) {
        const documented = Object.entries(doc.paths).find(([p]) => p.endsWith(path))?.[1];
        expect(documented?.[method], `${method} ${path}`).toBeDefined();
      }
    });

    it('needs credentials when configured, and the operator role to act', async () => {
      const guarded = openConsole(backend, {
        jobs,
        auth: { token: OPERATOR_TOKEN, viewerToken: VIEWER_TOKEN },
      });
      try {
        expect((await guarded.call('/api/jobs')).status).toBe(401);
        await guarded.json('/api/jobs', { token: VIEWER_TOKEN });
        await guarded.json('/api/troubleshooting/groups', { token: VIEWER_TOKEN });
        for (const path of [
          '/api/load',
          `/api/jobs/${randomUUID()}/cancel`,
          '/api/troubleshooting/groups/0123456789ab/actions',
        ]) {
          const refused = await guarded.call(path, {
            token: VIEWER_TOKEN,
            body: { count: 1, ...odds, action: 'retry', expectedCount: 0 },
          });
          expect(refused.status, path).toBe(403);
        }
      } finally {
        await guarded.console.close();
      }
    });
  });
}
