import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { RedisWorkerConfig, RedisWorkerProgress } from './redis-worker.js';

/** The Redis test worker in a child process, with its latest reported progress. */
export class RedisWorkerProcess {
  readonly child: ChildProcess;
  progress = { started: 0, completed: 0 };
  stderr = '';
  readonly exited: Promise<void>;

  constructor(config: RedisWorkerConfig) {
    this.child = fork(fileURLToPath(new URL('./redis-worker.ts', import.meta.url)), [], {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, DISPATCHBOX_REDIS_WORKER: JSON.stringify(config) },
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-20_000);
    });
    this.child.on('message', (message: RedisWorkerProgress) => {
      this.progress = { started: message.started, completed: message.completed };
    });
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Polls the reported progress until `until` holds; fails if the child dies or time runs out. */
  async waitFor(
    until: (p: { started: number; completed: number }) => boolean,
    timeoutMs: number,
    what: string,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!until(this.progress)) {
      if (!this.alive) throw new Error(`the worker exited before ${what}:\n${this.stderr}`);
      if (Date.now() > deadline) {
        throw new Error(
          `timed out waiting for ${what}; progress ${JSON.stringify(this.progress)}:\n${this.stderr}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  async kill(): Promise<void> {
    if (this.alive) this.child.kill('SIGKILL');
    await this.exited;
  }
}
