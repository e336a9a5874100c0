import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { afterEach, expect } from 'vitest';
import type { Backend, Queryable } from '../../src/backends/backend.js';
import { CommandBus } from '../../src/bus/bus.js';
import type { Worker, WorkerOptions } from '../../src/worker/worker.js';

export interface ConformanceOptions {
  /** Shown in the test names. */
  name: string;
  /**
   * A backend on a fresh, migrated store (schema, database or key prefix of its own).
   * The first one made is the suite's store (what `sql` and `transaction` use); a test
   * may make more of its own.
   */
  createBackend: () => Promise<Backend>;
  /** Drops what createBackend made; the backend is closed after it. */
  destroyBackend?: (backend: Backend) => Promise<void>;
  /** For stores with transactions: runs the suite's own setup and checks (an app table). */
  sql?: () => Queryable;
  /** For stores with transactions: runs `fn` in an application transaction (outbox sends). */
  transaction?: <T>(fn: (tx: Queryable) => Promise<T>) => Promise<T>;
  /**
   * A store of the test's own that can be taken down for real: a private server that is
   * stopped, a database that is closed. `backend` is migrated and working until `takeDown`.
   */
  outage: () => Promise<StoreOutage>;
}

export interface StoreOutage {
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

  constructor(readonly options: ConformanceOptions) {
    // Every worker a test starts must be stopped by the end of it, or the test fails.
    afterEach(async () => {
      const running = this.workers;
      this.workers = [];
      await Promise.all(running.map((w) => w.stop(2000)));
    });
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
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 15_000): Promise<T> {
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
