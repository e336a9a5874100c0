/**
 * `dispatchbox worker` serves /health and /ready on DISPATCHBOX_HEALTH_PORT, and on
 * SIGTERM answers 503 on /ready while a running handler drains, then exits 0 with the
 * command completed. A port in use stops it with a message naming the variable.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/program.js';
import { waitUntil } from './fixtures/wait-until.js';
import { freePort } from './helpers/servers.js';

const root = path.join(import.meta.dirname, '..');
const dir = mkdtempSync(path.join(tmpdir(), 'dispatchbox-ops-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const started = path.join(dir, 'handler-started');
const release = path.join(dir, 'handler-may-finish');

/** A handler that says when it starts and finishes only once the test lets it. */
function writeHandlers(): string {
  const handlers = path.join(dir, 'handlers');
  mkdirSync(handlers, { recursive: true });
  writeFileSync(
    path.join(handlers, 'slow-report.ts'),
    `import { existsSync, writeFileSync } from 'node:fs';
export const domain = 'reports';
export const type = 'slow-report';
export async function handle() {
  writeFileSync(${JSON.stringify(started)}, 'started');
  while (!existsSync(${JSON.stringify(release)})) await new Promise((r) => setTimeout(r, 20));
  return { built: true };
}
`,
  );
  return handlers;
}

async function cli(
  env: Record<string, string>,
  ...args: string[]
): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, {
    env,
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    isTTY: false,
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** The status of GET url, or 'refused' when nothing listens. */
async function statusOf(url: string): Promise<number | 'refused'> {
  try {
    const response = await fetch(url);
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 'refused';
  }
}

describe('dispatchbox worker with its health endpoints', () => {
  it('is ready once started; on SIGTERM /ready is 503 while the handler drains, then it exits 0 with the command completed', async () => {
    const dataDir = path.join(dir, 'data');
    const env = { DISPATCHBOX_DATA_DIR: dataDir, DISPATCHBOX_LOG_LEVEL: 'warn' };
    const sent = await cli(env, 'send', 'reports', 'slow-report', '{}', '--json');
    expect(sent.code, sent.err).toBe(0);
    const id = (JSON.parse(sent.out) as { id: string }).id;

    const port = await freePort();
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'worker', '--handlers', writeHandlers()],
      {
        cwd: root,
        env: {
          ...process.env,
          ...env,
          DISPATCHBOX_HEALTH_PORT: String(port),
          DISPATCHBOX_SHUTDOWN_TIMEOUT_MS: '60000',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      const url = `http://127.0.0.1:${port}`;
      await waitUntil(
        async () => (await statusOf(`${url}/ready`)) === 200,
        60_000,
        '/ready is 200',
      );
      expect(out).toContain(
        `health endpoints: ${url}/health (liveness), ${url}/ready (readiness), ${url}/metrics (listening on 0.0.0.0:${port}, DISPATCHBOX_HEALTH_PORT)`,
      );
      await waitUntil(() => existsSync(started), 30_000, 'the handler has started');

      child.kill('SIGTERM');
      await waitUntil(
        async () => (await statusOf(`${url}/ready`)) === 503,
        10_000,
        '/ready is 503',
      );
      const draining = await fetch(`${url}/ready`);
      expect(await draining.json()).toEqual({ status: 'not ready', reasons: ['shutting down'] });
      expect(await statusOf(`${url}/health`)).toBe(200);
      expect(existsSync(release)).toBe(false); // the handler is still running

      writeFileSync(release, 'go');
      expect(await exited, `${out}\n${err}`).toBe(0);
      expect(out).toContain('SIGTERM: stopping gracefully');
      expect(await statusOf(`${url}/health`)).toBe('refused');
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }

    const shown = await cli(env, 'show', id);
    expect(shown.out).toMatch(/state\s+completed/);
    expect(shown.out).toContain('{"built":true}');
  }, 120_000);

  it('exits 2 naming DISPATCHBOX_HEALTH_PORT when the port is in use, starting no worker', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '0.0.0.0', resolve));
    const { port } = taken.address() as { port: number };
    try {
      const r = await cli(
        {
          DISPATCHBOX_DATA_DIR: path.join(dir, 'data-taken'),
          DISPATCHBOX_HEALTH_PORT: String(port),
          DISPATCHBOX_LOG_LEVEL: 'silent',
        },
        'worker',
        '--handlers',
        writeHandlers(),
      );
      expect(r.code).toBe(2);
      expect(r.err).toBe(
        `dispatchbox: the operations server cannot listen on 0.0.0.0:${port}: the port is in use by another process; set DISPATCHBOX_HEALTH_PORT (--health-port) to a free port, or to 0 to serve no health endpoints`,
      );
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  }, 120_000);

  it('takes the port from --health-port too, checked before anything starts', async () => {
    const dataDir = path.join(dir, 'data-flag');
    const r = await cli(
      { DISPATCHBOX_DATA_DIR: dataDir },
      'worker',
      '--handlers',
      writeHandlers(),
      '--health-port',
      '70000',
    );
    expect(r.code).toBe(2);
    expect(r.err).toBe(
      'dispatchbox: --health-port must be a whole number from 0 to 65535 (0 turns the endpoints off); got "70000"',
    );
    expect(existsSync(dataDir)).toBe(false);
  });
});
