/**
 * `dispatchbox console`: serves the console with /health and /ready on its port, asks for
 * the token read from a secret file, stops on SIGTERM with exit 0; refuses to listen
 * beyond loopback without credentials before touching the store. `console hash-password`
 * hashes stdin. `dispatchbox start` (npm start) serves the console too and prints its URL.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/program.js';
import { verifyPassword } from '../src/console/index.js';
import { spawnCli } from './helpers/cli-process.js';
import { freePort } from './helpers/servers.js';

const dir = mkdtempSync(path.join(tmpdir(), 'dispatchbox-console-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const TOKEN = 'cli-test-token-0123456789abcdef';

const urlIn = (line: string) => /^console: (http:\/\/\S+\/)/.exec(line)?.[1];

describe('dispatchbox console', () => {
  it('serves the console and the health endpoints, asks for the token from its file, and stops on SIGTERM with exit 0', async () => {
    const tokenFile = path.join(dir, 'token');
    writeFileSync(tokenFile, `${TOKEN}\n`);
    const seen: Record<string, number> = {};
    let me: unknown = null;
    const run = await spawnCli(
      ['console'],
      {
        DISPATCHBOX_DATA_DIR: path.join(dir, 'data-console'),
        DISPATCHBOX_CONSOLE_PORT: '0',
        DISPATCHBOX_CONSOLE_TOKEN_FILE: tokenFile,
      },
      {
        onLine: (line, signal) => {
          const url = urlIn(line);
          if (!url) return;
          void (async () => {
            try {
              for (const p of ['health', 'ready', 'api/me'])
                seen[p] = (await fetch(`${url}${p}`)).status;
              const authed = await fetch(`${url}api/me`, {
                headers: { authorization: `Bearer ${TOKEN}` },
              });
              me = await authed.json();
            } finally {
              signal('SIGTERM');
            }
          })();
        },
      },
    );
    expect(run.code, run.err).toBe(0);
    expect(seen).toEqual({ health: 200, ready: 200, 'api/me': 401 });
    expect(me).toEqual({ user: { name: 'operator', role: 'operator' }, authRequired: true });
    expect(run.out).toMatch(/console: http:\/\/127\.0\.0\.1:\d+\/ \(stop with Ctrl-C or SIGTERM\)/);
    expect(run.out).toContain('SIGTERM: stopping the console');
    expect(run.out).toContain('console stopped');
    expect(run.out + run.err).not.toContain(TOKEN);
  }, 60_000);

  it('refuses to listen beyond loopback without credentials, before opening the store', async () => {
    const dataDir = path.join(dir, 'data-refused');
    const err: string[] = [];
    const code = await runCli(['console'], {
      env: {
        DISPATCHBOX_DATA_DIR: dataDir,
        DISPATCHBOX_CONSOLE_HOST: '0.0.0.0',
        DISPATCHBOX_CONSOLE_PORT: '0',
      },
      out: () => {},
      err: (t) => err.push(t),
      isTTY: false,
    });
    expect(code).toBe(2);
    expect(err.join('\n')).toMatch(
      /the console listens on 0\.0\.0\.0, beyond this machine, and no credentials are configured: set DISPATCHBOX_CONSOLE_TOKEN .* or DISPATCHBOX_CONSOLE_USERS/,
    );
    expect(existsSync(dataDir)).toBe(false);
  });

  it('refuses a bad DISPATCHBOX_CONSOLE_USERS entry without showing it', async () => {
    const err: string[] = [];
    const code = await runCli(['console'], {
      env: {
        DISPATCHBOX_DATA_DIR: path.join(dir, 'data-users'),
        DISPATCHBOX_CONSOLE_USERS: 'ann:operator:hunter2',
      },
      out: () => {},
      err: (t) => err.push(t),
      isTTY: false,
    });
    expect(code).toBe(2);
    expect(err.join('\n')).toMatch(
      /DISPATCHBOX_CONSOLE_USERS: entry 1 \(ann\): the password hash is not an scrypt hash/,
    );
    expect(err.join('\n')).not.toContain('hunter2');
  });

  it('hash-password prints the scrypt hash of the password on stdin, or the whole entry', async () => {
    const plain = await spawnCli(['console', 'hash-password'], {}, { stdin: 'open sesame\n' });
    expect(plain.code, plain.err).toBe(0);
    const hash = plain.out.trim();
    expect(hash).toMatch(/^scrypt\$\d+\$\S+\$\S+$/);
    expect(await verifyPassword('open sesame', hash)).toBe(true);
    const entry = await spawnCli(
      ['console', 'hash-password', '--user', 'ann', '--role', 'viewer'],
      {},
      { stdin: 'pw' },
    );
    expect(entry.out.trim()).toMatch(/^ann:viewer:scrypt\$/);
    const empty = await spawnCli(['console', 'hash-password'], {}, { stdin: '' });
    expect(empty.code).toBe(2);
    expect(empty.err).toContain('no password on stdin');
  }, 30_000);
});

describe('dispatchbox start (npm start)', () => {
  it('serves the console on --console-port 0 and prints its URL', async () => {
    let overview: { totals?: Record<string, number> } = {};
    const run = await spawnCli(
      ['start', '--console-port', '0', '--count', '20', '--rate', '0'],
      { DISPATCHBOX_DATA_DIR: path.join(dir, 'data-start') },
      {
        onLine: (line, signal) => {
          const url = urlIn(line);
          if (!url) return;
          void fetch(`${url}api/overview`)
            .then(async (r) => (overview = (await r.json()) as typeof overview))
            .finally(() => signal('SIGINT'));
        },
      },
    );
    expect(run.code, run.err).toBe(0);
    expect(run.out).toMatch(/console: http:\/\/127\.0\.0\.1:\d+\//);
    expect(overview.totals).toBeDefined();
  }, 60_000);
});

describe('dispatchbox worker --console', () => {
  const handlers = path.join(dir, 'handlers');
  mkdirSync(handlers, { recursive: true });
  writeFileSync(
    path.join(handlers, 'noop.ts'),
    "export const domain = 'cli-console';\nexport const type = 'noop';\nexport async function handle() { return null; }\n",
  );

  it('serves the console on the health port, behind the token, and stops with the worker', async () => {
    const port = await freePort();
    let me = 0;
    const run = await spawnCli(
      ['worker', '--handlers', handlers, '--console'],
      {
        DISPATCHBOX_DATA_DIR: path.join(dir, 'data-worker'),
        DISPATCHBOX_HEALTH_PORT: String(port),
        DISPATCHBOX_CONSOLE_TOKEN: TOKEN,
      },
      {
        onLine: (line, signal) => {
          const url = urlIn(line);
          if (!url) return;
          void fetch(`${url}api/me`, { headers: { authorization: `Bearer ${TOKEN}` } })
            .then((r) => (me = r.status))
            .finally(() => signal('SIGTERM'));
        },
      },
    );
    expect(run.code, run.err).toBe(0);
    expect(run.out).toContain(`console: http://127.0.0.1:${port}/`);
    expect(me).toBe(200);
  }, 60_000);

  it('refuses --console without credentials, since the health port listens on 0.0.0.0', async () => {
    const err: string[] = [];
    const code = await runCli(['worker', '--handlers', handlers, '--console'], {
      env: {
        DISPATCHBOX_DATA_DIR: path.join(dir, 'data-worker-refused'),
        DISPATCHBOX_HEALTH_PORT: '0',
      },
      out: () => {},
      err: (t) => err.push(t),
      isTTY: false,
    });
    expect(code).toBe(2);
    expect(err.join('\n')).toMatch(
      /--console serves the console on the health port, and DISPATCHBOX_HEALTH_PORT .* is 0/,
    );
    const noToken = await runCli(['worker', '--handlers', handlers, '--console'], {
      env: {
        DISPATCHBOX_DATA_DIR: path.join(dir, 'data-worker-refused'),
        DISPATCHBOX_HEALTH_PORT: '1',
      },
      out: () => {},
      err: (t) => err.push(t),
      isTTY: false,
    });
    expect(noToken).toBe(2);
    expect(err.join('\n')).toMatch(/no credentials are configured: set DISPATCHBOX_CONSOLE_TOKEN/);
    expect(existsSync(path.join(dir, 'data-worker-refused'))).toBe(false);
  });
});
