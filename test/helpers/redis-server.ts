import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, reachable } from './servers.js';

/**
 * A redis-server of the test's own, on a free port with its data in a temporary directory
 * and the append-only file fsynced on every write, that the test may kill -9 and start
 * again (the shared server at 6379 is never touched).
 */
export class PrivateRedis {
  private process: ChildProcess | null = null;
  private log = '';

  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}/0`;
  }

  static async create(): Promise<PrivateRedis> {
    const dir = await mkdtemp(join(tmpdir(), 'dispatchbox-redis-'));
    const server = new PrivateRedis(dir, await freePort());
    await server.start();
    return server;
  }

  async start(): Promise<void> {
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--dir',
        this.dir,
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--save',
        '',
        '--daemonize',
        'no',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout
      ?.setEncoding('utf8')
      .on('data', (chunk: string) => (this.log = (this.log + chunk).slice(-5000)));
    child.stderr
      ?.setEncoding('utf8')
      .on('data', (chunk: string) => (this.log = (this.log + chunk).slice(-5000)));
    this.process = child;
    const deadline = Date.now() + 10_000;
    while (!(await reachable(this.port))) {
      if (child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`redis-server did not start on port ${this.port}:\n${this.log}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /**
   * SIGSTOP: the server keeps its connections open and answers nothing, as a hung or
   * partitioned one does. `resume` (SIGCONT) lets it go on.
   */
  pause(): void {
    this.process?.kill('SIGSTOP');
  }

  resume(): void {
    this.process?.kill('SIGCONT');
  }

  /** kill -9, and wait until the process is gone. */
  async kill(): Promise<void> {
    const child = this.process;
    this.process = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL'); // ends a paused process too
    await exited;
  }

  async destroy(): Promise<void> {
    await this.kill();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Whether a redis-server binary can be run here. */
export function redisServerInstalled(): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn('redis-server', ['--version'], { stdio: 'ignore' });
    child.once('error', () => resolve(false));
    child.once('exit', (code) => resolve(code === 0));
  });
}
