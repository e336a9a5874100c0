/**
 * The console API over a real store, for tests: a bus on the store, the console's fetch
 * handler, and a small job runner of the test's own (jobs are another module's tests).
 */
import { randomUUID } from 'node:crypto';
import type { Backend } from '../../src/backends/backend.js';
import type { Command } from '../../src/core/command.js';
import { CommandBus } from '../../src/bus/bus.js';
import {
  createConsole,
  type ConsoleOptions,
  type DispatchboxConsole,
} from '../../src/console/index.js';
import type {
  JobControl,
  JobRunner,
  JobSnapshot,
  StartJobParams,
} from '../../src/console/types.js';

export interface ConsoleUnderTest {
  bus: CommandBus;
  console: DispatchboxConsole;
  jobs: TestJobRunner;
  /** fetch on the console: a path such as '/api/me', JSON bodies as objects. */
  call(path: string, init?: CallInit): Promise<Response>;
  /** call() and the JSON body, expecting `status`. */
  json<T = Record<string, unknown>>(
    path: string,
    init?: CallInit & { status?: number },
  ): Promise<T>;
  close(): Promise<void>;
}

export interface CallInit {
  method?: string;
  body?: unknown;
  token?: string;
  headers?: Record<string, string>;
}

export async function openConsole(
  backend: Backend,
  options: ConsoleOptions = {},
): Promise<ConsoleUnderTest> {
  const bus = new CommandBus({ backend });
  const jobs = new TestJobRunner();
  const console = createConsole(bus, { jobs, ...options });
  const call = (path: string, init: CallInit = {}) => {
    const headers: Record<string, string> = { ...init.headers };
    if (init.token) headers.authorization = `Bearer ${init.token}`;
    if (init.body !== undefined) headers['content-type'] ??= 'application/json';
    return console.fetch(
      new Request(`http://127.0.0.1${path}`, {
        method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
        headers,
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
      }),
    );
  };
  return {
    bus,
    console,
    jobs,
    call,
    json: async <T>(path: string, init: CallInit & { status?: number } = {}) => {
      const response = await call(path, init);
      const text = await response.text();
      if (response.status !== (init.status ?? 200))
        throw new Error(
          `${init.method ?? 'GET'} ${path}: expected ${init.status ?? 200}, got ${response.status}: ${text}`,
        );
      return JSON.parse(text) as T;
    },
    close: async () => {
      await console.close();
      await jobs.close();
    },
  };
}

/** Runs each job at once in the background; enough to see what the API started. */
export class TestJobRunner implements JobRunner {
  private readonly jobs = new Map<
    string,
    { snapshot: JobSnapshot; abort: AbortController; done: Promise<void> }
  >();
  private readonly listeners = new Set<(job: JobSnapshot) => void>();

  start(params: StartJobParams): JobSnapshot {
    const abort = new AbortController();
    const snapshot: JobSnapshot = {
      id: randomUUID(),
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
    const changed = () => this.listeners.forEach((l) => l({ ...snapshot }));
    const control: JobControl = {
      signal: abort.signal,
      progress: (done, failed = 0) => {
        Object.assign(snapshot, { done, failed });
        changed();
      },
    };
    const done = params
      .run(control)
      .then(
        (result) => Object.assign(snapshot, { state: 'done', result }),
        (error: unknown) => Object.assign(snapshot, { state: 'failed', error: String(error) }),
      )
      .then(() => {
        snapshot.finishedAt = new Date().toISOString();
        changed();
      });
    this.jobs.set(snapshot.id, { snapshot, abort, done });
    return { ...snapshot };
  }

  get(id: string): JobSnapshot | undefined {
    const job = this.jobs.get(id);
    return job && { ...job.snapshot };
  }

  list(): JobSnapshot[] {
    return [...this.jobs.values()].map((j) => ({ ...j.snapshot }));
  }

  cancel(id: string): boolean {
    const job = this.jobs.get(id);
    if (job?.snapshot.state !== 'running') return false;
    job.abort.abort();
    return true;
  }

  /** Resolves when the job has ended. */
  async finished(id: string): Promise<JobSnapshot> {
    await this.jobs.get(id)?.done;
    return this.get(id)!;
  }

  onChange(listener: (job: JobSnapshot) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    for (const job of this.jobs.values()) job.abort.abort();
    await Promise.all([...this.jobs.values()].map((j) => j.done));
  }
}

export const OPERATOR_TOKEN = 'operator-token-0123456789abcdef';
export const VIEWER_TOKEN = 'viewer-token-0123456789abcdef';

/**
 * Sends commands of `domain` and puts each in troubleshooting, as a worker whose handler
 * failed for good would: claimed, then settled with an error `code`.
 */
export async function troubledCommands(
  bus: CommandBus,
  domain: string,
  count = 1,
  options: { type?: string; code?: string; data?: (i: number) => unknown } = {},
): Promise<Command[]> {
  const sent = await bus.sendMany(
    Array.from({ length: count }, (_, i) => ({
      domain,
      type: options.type ?? 'job',
      data: options.data?.(i) ?? { n: i },
    })),
  );
  const claimed = [];
  while (claimed.length < count) {
    const page = await bus.backend.claim({
      workerId: 'test-worker',
      domain,
      types: [options.type ?? 'job'],
      limit: count,
      leaseMs: 60_000,
      leaseToken: randomUUID(),
    });
    if (page.length === 0)
      throw new Error(`only ${claimed.length} of ${count} commands were claimable`);
    claimed.push(...page);
  }
  await bus.backend.settle({
    workerId: 'test-worker',
    settlements: claimed.map((c) => ({
      id: c.id,
      leaseToken: c.leaseToken,
      attempt: c.attempts,
      domain: c.domain,
      kind: 'troubleshoot' as const,
      error: { code: options.code ?? 'BROKEN', message: `command ${c.id} broke` },
    })),
  });
  return Promise.all(sent.map((c) => bus.get(c.id)));
}
