import { fork, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SystemName } from './adapters/index.js';
import type { Op, ProgressEvent, Reply, Request, Requests } from './protocol.js';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const RESULTS_DIR = join(BENCH_DIR, 'results');

export class HostError extends Error {
  constructor(
    message: string,
    readonly unavailable = false,
  ) {
    super(message);
  }
}

export interface SpawnOptions {
  /** Extra node flags (e.g. --cpu-prof for the worker's process). */
  nodeArgs?: string[];
}

/** The runner's side of one host process (bench/host.ts). */
export class Host {
  private nextId = 1;
  private readonly waiting = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void }
  >();
  private progressListener: ((done: number) => void) | null = null;
  private exited = false;

  private constructor(
    readonly system: SystemName,
    private readonly child: ChildProcess,
  ) {
    child.on('message', (message: Reply | ProgressEvent | { event: 'ready' }) => {
      if ('event' in message) {
        if (message.event === 'progress') this.progressListener?.(message.done);
        return;
      }
      const waiter = this.waiting.get(message.id);
      this.waiting.delete(message.id);
      if (!waiter) return;
      if (message.ok) waiter.resolve(message.value);
      else waiter.reject(new HostError(message.error, message.unavailable));
    });
    child.on('exit', (code, signal) => {
      this.exited = true;
      for (const waiter of this.waiting.values()) {
        waiter.reject(new HostError(`${system} host exited (code ${code}, signal ${signal})`));
      }
      this.waiting.clear();
    });
  }

  static async spawn(system: SystemName, options: SpawnOptions = {}): Promise<Host> {
    mkdirSync(join(RESULTS_DIR, 'logs'), { recursive: true });
    const log = openSync(join(RESULTS_DIR, 'logs', `${system}.log`), 'a');
    // compiled by the runner (run.ts, compileHost); the TypeScript through tsx otherwise
    const compiled = process.env.BENCH_HOST_ENTRY;
    const child = fork(compiled ?? join(BENCH_DIR, 'host.ts'), [system], {
      cwd: BENCH_DIR,
      execArgv: [...(compiled ? [] : ['--import', 'tsx']), ...(options.nodeArgs ?? [])],
      stdio: ['ignore', log, log, 'ipc'],
    });
    closeSync(log);
    const host = new Host(system, child);
    await new Promise<void>((resolve, reject) => {
      const onMessage = (message: { event?: string }) => {
        if (message.event !== 'ready') return;
        child.off('message', onMessage);
        resolve();
      };
      child.on('message', onMessage);
      child.once('exit', (code) =>
        reject(
          new HostError(
            `${system} host failed to start (code ${code}); see results/logs/${system}.log`,
          ),
        ),
      );
    });
    return host;
  }

  call<O extends Op>(op: O, args: Requests[O][0], timeoutMs = 120_000): Promise<Requests[O][1]> {
    if (this.exited) return Promise.reject(new HostError(`${this.system} host has exited`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new HostError(`${this.system}: ${op} took longer than ${timeoutMs / 1000} s`));
        this.kill();
      }, timeoutMs);
      this.waiting.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as Requests[O][1]);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.child.send({ id, op, args } satisfies Request<O>);
    });
  }

  onProgress(listener: (done: number) => void): void {
    this.progressListener = listener;
  }

  /** Fire and forget (progress relays). */
  notify<O extends Op>(op: O, args: Requests[O][0]): void {
    if (!this.exited) this.child.send({ id: 0, op, args } satisfies Request<O>);
  }

  /** Closes the system and waits for the process to exit; kills it (by its pid) if it hangs. */
  async close(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    try {
      await this.call('close', {}, 30_000);
    } catch {
      this.kill();
    }
    const timer = setTimeout(() => this.kill(), 10_000);
    await exited;
    clearTimeout(timer);
  }

  kill(): void {
    if (!this.exited && this.child.pid) process.kill(this.child.pid, 'SIGKILL');
  }
}
