/**
 * The console API over a real store, for tests: a bus on the store, the console's fetch
 * handler, and its job runner (the real one unless a test gives its own).
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
import { createJobRunner } from '../../src/console/jobs.js';
import type { JobRunner, JobSnapshot } from '../../src/console/types.js';
import { pino } from 'pino';
import { afterAll, beforeAll } from 'vitest';
import type { TestStore } from './stores.js';

export interface ConsoleUnderTest {
  bus: CommandBus;
  console: DispatchboxConsole;
  jobs: JobRunner;
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

export function openConsole(backend: Backend, options: ConsoleOptions = {}): ConsoleUnderTest {
  const bus = new CommandBus({ backend });
  const jobs = options.jobs ?? createJobRunner(pino({ level: 'silent' }));
  const console = createConsole(bus, { ...options, jobs });
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

/**
 * For a describe block: opens `store` and a console over it before its tests and closes
 * both after. Returns the console (read it inside the tests, once beforeAll has run).
 */
export function consoleOnStore(store: TestStore): () => ConsoleUnderTest {
  let backend: Backend;
  let api: ConsoleUnderTest;
  beforeAll(async () => {
    backend = await store.open();
    api = openConsole(backend);
  });
  afterAll(async () => {
    await api.close();
    await store.destroy(backend);
    await backend.close();
  });
  return () => api;
}

/** Resolves with the job once it has ended (the runner tells each change). */
export function finished(jobs: JobRunner, id: string): Promise<JobSnapshot> {
  return new Promise((resolve, reject) => {
    const ended = (job: JobSnapshot | undefined) => job !== undefined && job.state !== 'running';
    const stop = jobs.onChange((job) => {
      if (job.id === id && ended(job)) {
        stop();
        resolve(job);
      }
    });
    const now = jobs.get(id);
    if (now === undefined) {
      stop();
      reject(new Error(`no job ${id}`));
    } else if (ended(now)) {
      stop();
      resolve(now);
    }
  });
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
