/**
 * The background jobs (bulk actions over a filter, the load generator): listed once from
 * /api/jobs, then kept current by the live stream's `job` events.
 */
import { useEffect, useState } from 'preact/hooks';
import { api } from './api';
import { live } from './live';
import type { Job } from './types';

const jobs = new Map<string, Job>();
const listeners = new Set<() => void>();
let loaded = false;

function changed(): void {
  for (const listener of listeners) listener();
}

export function rememberJob(job: Job): void {
  jobs.set(job.id, job);
  changed();
}

live.subscribe((message) => {
  if (message.event === 'job') rememberJob(message.data);
});

export async function loadJobs(): Promise<void> {
  const { jobs: listed } = await api.get<{ jobs: Job[] }>('/jobs');
  for (const job of listed) jobs.set(job.id, job);
  loaded = true;
  changed();
}

/** Every known job, running ones first, then newest first. */
export function useJobs(): Job[] {
  const [, setVersion] = useState(0);
  useEffect(() => {
    const listener = () => setVersion((v) => v + 1);
    listeners.add(listener);
    if (!loaded) loadJobs().catch(() => {});
    return () => listeners.delete(listener);
  }, []);
  return [...jobs.values()].sort(
    (a, b) =>
      Number(b.state === 'running') - Number(a.state === 'running') ||
      b.startedAt.localeCompare(a.startedAt),
  );
}

/** How often a job the page waits on is read again, should the stream miss its change. */
const JOB_POLL_MS = 2000;

/** One job, kept current: by the stream, and by reading it while it runs. */
export function useJob(id: string | null): Job | null {
  const all = useJobs();
  const job = id ? (all.find((j) => j.id === id) ?? null) : null;
  const running = job?.state === 'running';
  useEffect(() => {
    if (!id || !running) return;
    const timer = setInterval(() => {
      if (!document.hidden)
        api
          .get<Job>(`/jobs/${encodeURIComponent(id)}`)
          .then(rememberJob)
          .catch(() => {});
    }, JOB_POLL_MS);
    return () => clearInterval(timer);
  }, [id, running]);
  return job;
}
