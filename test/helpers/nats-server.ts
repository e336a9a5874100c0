import { spawn, type ChildProcess } from 'node:child_process';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { freePort, requireServer } from './servers.js';

export const NATS_SERVER_BINARY = process.env.DISPATCHBOX_NATS_SERVER ?? '/usr/sbin/nats-server';
export const NATS_URL = process.env.DISPATCHBOX_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

/** Whether the shared NATS (with JetStream) answers; in CI its absence fails the run. */
export function natsAvailable(): Promise<boolean> {
  return requireServer('NATS', Number(new URL(NATS_URL).port || 4222));
}

/**
 * Deletes JetStream streams from the shared server: those named, or those whose name
 * matches (the streams a test made, never another's).
 */
export async function deleteStreams(
  names: Iterable<string> | RegExp,
  url = NATS_URL,
): Promise<void> {
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    let doomed: Set<string>;
    if (names instanceof RegExp) {
      doomed = new Set();
      for await (const name of jsm.streams.names()) if (names.test(name)) doomed.add(name);
    } else {
      doomed = new Set(names);
    }
    for (const name of doomed) {
      await jsm.streams.delete(name).catch(() => false); // never made, or gone already
    }
  } finally {
    await nc.close();
  }
}

/**
 * A nats-server of the test's own with JetStream on, on a free port with its store in a
 * temporary directory, that the test may kill and start again on the same port and store
 * (the shared server at 4222 is never touched).
 */
export class PrivateNats {
  private process: ChildProcess | null = null;
  private log = '';

  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  private static readonly made = new Set<PrivateNats>();

  static async create(): Promise<PrivateNats> {
    const dir = await mkdtemp(join(tmpdir(), 'dispatchbox-nats-'));
    const server = new PrivateNats(dir, await freePort());
    PrivateNats.made.add(server);
    await server.start();
    return server;
  }

  /**
   * Stops and removes every server this process made and has not destroyed: for an
   * afterAll, as a test that times out never reaches its own clean-up.
   */
  static async destroyAll(): Promise<void> {
    await Promise.all([...PrivateNats.made].map((server) => server.destroy()));
  }

  /** Starts the server and resolves once JetStream answers (not just the port). */
  async start(): Promise<void> {
    const child = spawn(
      NATS_SERVER_BINARY,
      ['-js', '-sd', this.dir, '-a', '127.0.0.1', '-p', String(this.port)],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const keep = (chunk: string) => (this.log = (this.log + chunk).slice(-5000));
    child.stdout?.setEncoding('utf8').on('data', keep);
    child.stderr?.setEncoding('utf8').on('data', keep);
    this.process = child;
    // nats-server logs this line once JetStream has recovered its streams and the client
    // port is open.
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error('no "Server is ready" within 15 s')), 15_000);
      const fail = (error: Error) => {
        clearTimeout(timer);
        reject(
          new Error(
            `nats-server did not start on port ${this.port}: ${error.message}\n${this.log}`,
          ),
        );
      };
      const watch = () => {
        if (this.log.includes('Server is ready')) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on('data', watch);
      child.stderr?.on('data', watch);
      child.once('exit', (code, signal) => fail(new Error(`exited (${code ?? signal})`)));
    });
  }

  /** Stops the process with `signal` and waits until it is gone. */
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.process;
    this.process = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  }

  async destroy(): Promise<void> {
    PrivateNats.made.delete(this);
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Whether the nats-server binary is here to start private servers. */
export async function natsServerInstalled(): Promise<boolean> {
  try {
    await access(NATS_SERVER_BINARY);
    return true;
  } catch {
    return false;
  }
}
