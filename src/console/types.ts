/**
 * The seams of the console's HTTP API: who is asking (set by the auth middleware), the
 * app every route module registers on, what the routes share, and the background jobs
 * (bulk actions over a filter, the load generator) that report progress.
 */
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Logger } from 'pino';
import type { CommandBus } from '../bus/bus.js';

/** viewer: reads only. operator: reads and acts (retry, cancel, complete, send, load). */
export type ConsoleRole = 'viewer' | 'operator';

/** The authenticated caller; `name` is the actor of every action it takes. */
export interface ConsoleUser {
  name: string;
  role: ConsoleRole;
}

/** Hono's environment for /api: the auth middleware sets `user` before any route runs. */
export interface ConsoleEnv {
  Variables: { user: ConsoleUser };
}

/** The app every route module registers its routes on (paths relative to /api). */
export type ConsoleApi = OpenAPIHono<ConsoleEnv>;

/** What the route modules share. */
export interface ConsoleDeps {
  bus: CommandBus;
  logger: Logger;
  jobs: JobRunner;
}

export type JobKind = 'bulk-action' | 'load';
export type JobState = 'running' | 'done' | 'failed' | 'cancelled';

/** A background job as the API shows it (JSON-ready: times as ISO text). */
export interface JobSnapshot {
  id: string;
  kind: JobKind;
  /** What it does, for people: "retry 1,204 commands in troubleshooting". */
  label: string;
  state: JobState;
  /** Items it will handle (commands to act on or to send). */
  total: number;
  /** Items handled so far, successfully or not. */
  done: number;
  /** Of those, the ones that failed (an action refused in the command's new state). */
  failed: number;
  actor: string;
  startedAt: string;
  finishedAt: string | null;
  /** Why it failed, when it did. */
  error: string | null;
  /** What the job returned when done (the load generator's batch id, say). */
  result: unknown;
}

/** What a job's body is given: when to stop, and where to report progress. */
export interface JobControl {
  readonly signal: AbortSignal;
  progress(done: number, failed?: number): void;
}

export interface StartJobParams {
  kind: JobKind;
  label: string;
  total: number;
  actor: string;
  /** The job's body; it runs in the background, yielding to the event loop between chunks. */
  run: (job: JobControl) => Promise<unknown>;
}

/** Runs jobs in the background of the console's process; keeps the recent ones to show. */
export interface JobRunner {
  start(params: StartJobParams): JobSnapshot;
  get(id: string): JobSnapshot | undefined;
  /** Running jobs first, then the finished ones, newest first. */
  list(): JobSnapshot[];
  /** Asks a running job to stop; false when there is no such running job. */
  cancel(id: string): boolean;
  /** Called at most a few times a second per job while it runs, and once when it ends. */
  onChange(listener: (job: JobSnapshot) => void): () => void;
  /** Cancels the running jobs and waits for them to stop. */
  close(): Promise<void>;
}
