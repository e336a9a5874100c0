import { execFile as execFileCallback, execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFile = promisify(execFileCallback);

/**
 * A PostgreSQL server of the test's own, in a temporary directory on a free port, that the
 * test may stop and start at will (the shared server at 5432 must never be stopped).
 * `pg_config --bindir` finds initdb and pg_ctl. PostgreSQL refuses to run as root, so as
 * root the directory is handed to the `postgres` user and every command runs as it.
 */
export class PrivatePostgres {
  private running = false;

  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly bindir: string,
  ) {}

  get dataDir(): string {
    return join(this.dir, 'data');
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  /** Whether initdb and pg_ctl can be found; says why not otherwise. */
  static unavailableReason(): string | null {
    try {
      const bindir = findBindir();
      execFileSync(join(bindir, 'initdb'), ['--version']);
      if (process.getuid?.() === 0) execFileSync('id', ['-u', 'postgres']);
      return null;
    } catch (error) {
      return `cannot run initdb/pg_ctl (${(error as Error).message.split('\n')[0]})`;
    }
  }

  /**
   * `password`: TCP connections must give it (scram-sha-256) instead of being trusted, for
   * tests of a refused login.
   */
  static async create(options: { password?: string } = {}): Promise<PrivatePostgres> {
    const bindir = findBindir();
    const dir = await mkdtemp(join(tmpdir(), 'dispatchbox-pg-'));
    const server = new PrivatePostgres(dir, await freePort(), bindir);
    let auth = ['--auth=trust'];
    if (options.password !== undefined) {
      const pwfile = join(dir, 'pwfile');
      await writeFile(pwfile, options.password);
      auth = ['--auth-local=trust', '--auth-host=scram-sha-256', `--pwfile=${pwfile}`];
    }
    if (process.getuid?.() === 0) await execFile('chown', ['-R', 'postgres', dir]);
    try {
      // -N: initdb skips its fsync; the cluster is thrown away after the test.
      await server.run('initdb', ['-D', server.dataDir, '-U', 'postgres', ...auth, '-N']);
      await server.start();
    } catch (error) {
      await server.destroy();
      throw error;
    }
    return server;
  }

  /** Starts the server and waits until it accepts connections. */
  async start(): Promise<void> {
    // fsync=off only matters when the machine loses power: a stopped or killed server
    // keeps every commit it acknowledged, which is what the tests rely on.
    const options = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
    await this.run('pg_ctl', [
      '-D',
      this.dataDir,
      '-o',
      options,
      '-l',
      join(this.dir, 'server.log'),
      '-w',
      '-t',
      '30',
      'start',
    ]);
    this.running = true;
    process.once('exit', this.stopAtExit);
  }

  /** If the test process ends without its afterAll (killed, crashed), the server goes with it. */
  private readonly stopAtExit = () => {
    if (!this.running) return;
    try {
      execFileSync(...this.command('pg_ctl', ['-D', this.dataDir, '-m', 'immediate', 'stop']));
    } catch {
      // Nothing more can be done while the process exits.
    }
  };

  /**
   * Stops the server. `immediate` is a crash as far as clients see it: connections are cut
   * without goodbye and the next start replays the WAL.
   */
  async stop(mode: 'fast' | 'immediate' = 'immediate'): Promise<void> {
    await this.run('pg_ctl', ['-D', this.dataDir, '-m', mode, '-w', '-t', '30', 'stop']);
    this.running = false;
    process.removeListener('exit', this.stopAtExit);
  }

  /** The postmaster's process id, from its pid file. */
  async pid(): Promise<number | null> {
    const text = await readFile(join(this.dataDir, 'postmaster.pid'), 'utf8').catch(() => null);
    const pid = Number(text?.split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  }

  /** Stops the server if it runs (by its data directory, else by its pid) and removes it. */
  async destroy(): Promise<void> {
    if (this.running) {
      await this.stop('immediate').catch(async () => {
        const pid = await this.pid();
        if (pid) process.kill(pid, 'SIGQUIT');
      });
    }
    await rm(this.dir, { recursive: true, force: true });
  }

  async log(): Promise<string> {
    return readFile(join(this.dir, 'server.log'), 'utf8').catch(() => '');
  }

  private async run(tool: string, args: string[]): Promise<void> {
    try {
      await execFile(...this.command(tool, args), { timeout: 60_000 });
    } catch (error) {
      const e = error as Error & { stderr?: string };
      throw new Error(`${tool} ${args.join(' ')} failed: ${e.stderr || e.message}`, {
        cause: error,
      });
    }
  }

  /** The command line for one of PostgreSQL's tools, as the `postgres` user when root. */
  private command(tool: string, args: string[]): [string, string[]] {
    const path = join(this.bindir, tool);
    return process.getuid?.() === 0
      ? ['runuser', ['-u', 'postgres', '--', path, ...args]]
      : [path, args];
  }
}

function findBindir(): string {
  return execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim();
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
