/**
 * Background jobs of the console (types.ts, JobRunner): bulk actions over a filter and
 * the load generator run here, in the console's own process, while the API keeps
 * answering. A job reports its progress; listeners hear of it a few times a second at
 * most, so a job over a million commands does not flood the live updates.
 */
import type { Logger } from 'pino';
import { uuidv7 } from '../core/ids.js';
import type { JobControl, JobRunner, JobSnapshot, StartJobParams } from './types.js';

/** The finished jobs kept to show; older ones are forgotten. */
export const FINISHED_JOBS_KEPT = 50;
/** Progress reaches the listeners at most once per this many ms per job (~4 a second). */
export const PROGRESS_EVERY_MS = 250;

interface Job {
  snapshot: JobSnapshot;
  controller: AbortController;
  /** Settles when the body has ended, however it ended. */
  ended: Promise<void>;
  lastToldAt: number;
  /** A pending "tell the listeners" for progress that came too soon after the last. */
  timer: NodeJS.Timeout | null;
}

export function createJobRunner(logger: Logger): JobRunner {
  const jobs = new Map<string, Job>();
  const listeners = new Set<(job: JobSnapshot) => void>();

  const tell = (job: Job) => {
    if (job.timer) clearTimeout(job.timer);
    job.timer = null;
    job.lastToldAt = Date.now();
    const snapshot = { ...job.snapshot };
    for (const listener of listeners) {
      try {
        listener(snapshot);
      } catch (error) {
        logger.warn({ err: error, jobId: snapshot.id }, 'a job listener threw; the job goes on');
      }
    }
  };

  const progressed = (job: Job) => {
    if (job.timer || job.snapshot.state !== 'running') return;
    const wait = job.lastToldAt + PROGRESS_EVERY_MS - Date.now();
    if (wait <= 0) tell(job);
    else job.timer = setTimeout(() => tell(job), wait);
  };

  const forgetOldFinished = () => {
    const finished = [...jobs.values()].filter((j) => j.snapshot.state !== 'running');
    // Map order is insertion order: the oldest jobs come first
    for (const job of finished.slice(0, Math.max(0, finished.length - FINISHED_JOBS_KEPT)))
      jobs.delete(job.snapshot.id);
  };

  const finish = (job: Job, outcome: { result?: unknown; error?: unknown }) => {
    const s = job.snapshot;
    s.finishedAt = new Date().toISOString();
    if (job.controller.signal.aborted) {
      s.state = 'cancelled';
    } else if ('error' in outcome) {
      s.state = 'failed';
      s.error = readable(outcome.error);
      logger.warn({ err: outcome.error, jobId: s.id, kind: s.kind }, `job failed: ${s.label}`);
    } else {
      s.state = 'done';
      s.result = outcome.result ?? null;
    }
    tell(job);
    forgetOldFinished();
  };

  return {
    start(params: StartJobParams): JobSnapshot {
      const controller = new AbortController();
      const snapshot: JobSnapshot = {
        id: uuidv7(),
        kind: params.kind,
        label: params.label,
        state: 'running',
        total: params.total,
        done: 0,
        failed: 0,
        actor: params.actor,
        startedAt: new Date().toISOString(),
        finishedAt: null,
        error: null,
        result: null,
      };
      const job: Job = {
        snapshot,
        controller,
        ended: Promise.resolve(),
        lastToldAt: 0,
        timer: null,
      };
      const control: JobControl = {
        signal: controller.signal,
        progress(done, failed) {
          if (snapshot.state !== 'running') return;
          snapshot.done = done;
          if (failed !== undefined) snapshot.failed = failed;
          progressed(job);
        },
      };
      jobs.set(snapshot.id, job);
      tell(job);
      // the body starts on a later tick, so a body that throws at once still fails its
      // job; one cancelled before then never starts
      job.ended = Promise.resolve()
        .then(() => (controller.signal.aborted ? null : params.run(control)))
        .then(
          (result) => finish(job, { result }),
          (error: unknown) => finish(job, { error }),
        );
      return { ...snapshot };
    },

    get(id) {
      const job = jobs.get(id);
      return job && { ...job.snapshot };
    },

    list() {
      const all = [...jobs.values()].map((j) => ({ ...j.snapshot })).reverse();
      return [
        ...all.filter((j) => j.state === 'running'),
        ...all.filter((j) => j.state !== 'running'),
      ];
    },

    cancel(id) {
      const job = jobs.get(id);
      if (!job || job.snapshot.state !== 'running') return false;
      job.controller.abort(new Error(`job ${id} cancelled`));
      return true;
    },

    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    async close() {
      const running = [...jobs.values()].filter((j) => j.snapshot.state === 'running');
      for (const job of running) job.controller.abort(new Error('the console is closing'));
      await Promise.all(running.map((j) => j.ended));
    },
  };
}

/** What went wrong, for people: the error's message, its class when that says more. */
function readable(error: unknown): string {
  if (error instanceof Error) {
    const message = error.message || 'no message';
    return error.name && error.name !== 'Error' ? `${error.name}: ${message}` : message;
  }
  let shown: string;
  try {
    shown = typeof error === 'string' ? error : (JSON.stringify(error) ?? String(error));
  } catch {
    shown = String(error);
  }
  return `the job's body rejected with ${shown}`;
}
