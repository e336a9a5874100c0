import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { afterEach, expect } from 'vitest';
import type { Backend, Queryable } from '../../backends/backend.js';
import { CommandBus } from '../../bus/bus.js';
import type { Worker, WorkerOptions } from '../../worker/worker.js';

/** The parts of the suite, one per role of the Backend contract (src/backends/roles/). */
export const STORE_ROLES = [
  'commands',
  'operator',
  'batches',
  'limits',
  'maintenance',
  'samples',
] as const;
export type StoreRole = (typeof STORE_ROLES)[number];

export interface StoreConformanceOptions {
  /** Shown in the test names. */
  name: string;
  /**
   * A backend on a fresh, migrated store (a schema, database or key prefix of its own).
   * The first one opened is the suite's store, shared by its tests; a test may open more
   * (one that it closes to see a store fail).
   */
  open: () => Promise<Backend>;
  /** Drops what `open` made (a schema, keys); the suite closes the backend after it. */
  cleanup?: ((backend: Backend) => Promise<void>) | undefined;
  /**
   * The parts to run; every role by default. Every part runs the store through a real bus
   * and worker, so `open` returns a whole Backend either way: run one part to work on one
   * role, and all of them before calling the store done.
   */
  roles?: readonly StoreRole[] | undefined;
  /**
   * Required when `capabilities.transactions` is true and the commands role runs: runs
   * the suite's own setup and checks (a table of the application's) on the suite's store.
   */
  sql?: (() => Queryable) | undefined;
  /**
   * Required with `sql`: runs `fn` in an application transaction on the suite's store
   * (outbox sends).
   */
  transaction?: (<T>(fn: (tx: Queryable) => Promise<T>) => Promise<T>) | undefined;
  /**
   * A store of the test's own that can be taken down for real: a private server that is
   * stopped, a database that is closed. Without it, the check that every call fails as a
   * StoreError while the store is down does not run (it runs with the commands role).
   */
  outage?: (() => Promise<StoreOutage>) | undefined;
  /**
   * How long one test, or opening and closing the store, may take: 60 s by default. The
   * suite sets it on its own tests, so the test runner's defaults (5 s) do not apply.
   */
  timeoutMs?: number | undefined;
}

export interface StoreOutage {
  /** Migrated and working until `takeDown`. */
  backend: Backend;
  takeDown(): Promise<void>;
  /** Removes what the outage made (the server, its files); the backend is closed first. */
  cleanup(): Promise<void>;
}

/** What every test of the suite gets: the backend and helpers that clean up after it. */
export class SuiteContext {
  backend!: Backend;
  private workers: Worker[] = [];
  readonly logger = pino({ level: 'silent' });

  constructor(
    readonly options: StoreConformanceOptions,
    timeoutMs: number,
  ) {
    // Every worker a test starts must be stopped by the end of it, or the test fails.
    afterEach(async () => {
      const running = this.workers;
      this.workers = [];
      await Promise.all(running.map((w) => w.stop(2000)));
    }, timeoutMs);
  }

  /** A unique domain: tests share one store and never see each other's commands. */
  domain(prefix = 'd'): string {
    return `${prefix}-${randomUUID().slice(0, 12)}`;
  }

  bus(options: { strict?: boolean; maxPayloadBytes?: number } = {}): CommandBus {
    return new CommandBus({ backend: this.backend, logger: this.logger, ...options });
  }

  /** A bus on another backend than the suite's (a store of the test's own). */
  busOn(backend: Backend): CommandBus {
    return new CommandBus({ backend, logger: this.logger });
  }

  async worker(bus: CommandBus, options: WorkerOptions = {}): Promise<Worker> {
    const worker = bus.worker({ pollIntervalMs: 200, ...options });
    this.workers.push(worker);
    return worker.start();
  }
}

/** Polls `check` until it passes; for state that changes in the store, not in this process. */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}

export async function expectState(bus: CommandBus, id: string, state: string): Promise<void> {
  await eventually(async () => expect((await bus.get(id)).state).toBe(state));
}
