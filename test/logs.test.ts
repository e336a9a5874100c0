import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify, stripVTControlCharacters } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger, resolveLogFormat } from '../src/config/logger.js';
import { waitUntil } from './fixtures/wait-until.js';

/**
 * Where Dispatchbox's logs go and how loud they are: a library is quiet by default (no
 * line on stdout, no info line on stderr), the CLI logs at info on stderr, and stderr
 * gets JSON lines, or readable lines at a terminal.
 */

const run = promisify(execFile);
const root = path.join(import.meta.dirname, '..');
const fixture = path.join(import.meta.dirname, 'fixtures', 'library-logs.ts');
const dir = mkdtempSync(path.join(tmpdir(), 'dispatchbox-logs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The environment of this process without any DISPATCHBOX_* variable, plus `extra`. */
function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env))
    if (!name.startsWith('DISPATCHBOX_') && value !== undefined) env[name] = value;
  return { ...env, ...extra };
}

/** Runs the library fixture in `mode` and returns what it wrote on each stream. */
async function library(mode: string, extra: Record<string, string> = {}) {
  const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', fixture, mode], {
    cwd: root,
    env: cleanEnv(extra),
    timeout: 60_000,
  });
  return { stdout, stderr };
}

/** The JSON log records among stderr's lines. */
function records(stderr: string): { level: number; msg: string }[] {
  return stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { level: number; msg: string });
}

describe('a library is quiet by default', () => {
  it('createDispatchbox() and a CommandBus with no logger: sending and working writes nothing', async () => {
    const { stdout, stderr } = await library('both');
    expect(stdout).toBe('');
    expect(stderr).toBe('');
  }, 90_000);

  it('stays quiet when other DISPATCHBOX_* variables are set', async () => {
    const { stdout, stderr } = await library('create', { DISPATCHBOX_CONCURRENCY: '2' });
    expect(stdout).toBe('');
    expect(stderr).toBe('');
  }, 60_000);

  it('says more when asked, on stderr only: DISPATCHBOX_LOG_LEVEL=info, DISPATCHBOX_LOG_FORMAT=pretty', async () => {
    const { stdout, stderr } = await library('create', {
      DISPATCHBOX_LOG_LEVEL: 'info',
      DISPATCHBOX_LOG_FORMAT: 'pretty',
    });
    expect(stdout).toBe('');
    // readable lines, not JSON: the message after the time and level, the fields below
    expect(records(stderr)).toEqual([]);
    expect(stderr).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: worker started$/m);
    expect(stderr).toMatch(/^\[[\d:.]+\] INFO: worker stopped$/m);
    expect(stderr).toMatch(/^ {4}workerId: "/m);
  }, 60_000);
});

describe('the logger', () => {
  it('is pretty at a terminal and JSON elsewhere, unless told', () => {
    expect(resolveLogFormat('auto', true)).toBe('pretty');
    expect(resolveLogFormat('auto', false)).toBe('json');
    expect(resolveLogFormat('json', true)).toBe('json');
    expect(resolveLogFormat('pretty', false)).toBe('pretty');
  });

  it('writes each line at once, JSON or pretty (nothing waits in a buffer)', () => {
    for (const [format, isTTY] of [
      ['auto', false],
      ['auto', true],
    ] as const) {
      const file = path.join(dir, `log-${format}-${isTTY}`);
      const fd = openSync(file, 'w');
      try {
        createLogger('info', format, { fd, isTTY }).info({ orderId: 42 }, 'charged');
        const written = readFileSync(file, 'utf8');
        if (isTTY) {
          // coloured for the terminal
          expect(written).toContain('\u001b[');
          expect(stripVTControlCharacters(written)).toMatch(/\] INFO: charged\n {4}orderId: 42\n$/);
        } else {
          expect(JSON.parse(written)).toMatchObject({
            level: 30,
            msg: 'charged',
            orderId: 42,
            name: 'dispatchbox',
          });
        }
      } finally {
        closeSync(fd);
      }
    }
  });

  it('loses no line when the process exits right after logging', async () => {
    for (const format of ['json', 'pretty']) {
      const { stderr } = await library('exit', { DISPATCHBOX_LOG_FORMAT: format });
      // createLogger reads no variable itself: 'auto', and stderr is a pipe here
      expect(stderr).toContain('the last line before exit');
    }
  }, 60_000);
});

describe('the CLI logs at info on stderr', () => {
  it('dispatchbox worker, with no DISPATCHBOX_LOG_LEVEL, logs its start at info', async () => {
    const handlers = path.join(root, 'test', 'fixtures', 'handlers');
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'worker', '--handlers', handlers],
      {
        cwd: root,
        // port 0: other test files run CLI workers at the same time, and 8080 may be taken
        env: cleanEnv({
          DISPATCHBOX_DATA_DIR: path.join(dir, 'cli-data'),
          DISPATCHBOX_HEALTH_PORT: '0',
        }),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      await waitUntil(() => stderr.includes('worker started'), 30_000, 'the worker started').catch(
        (error: Error) => {
          throw new Error(`${error.message}; its stderr: ${stderr}`);
        },
      );
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    const started = records(stderr).find((r) => r.msg === 'worker started');
    expect(started?.level).toBe(30);
    // stdout carries the command's own output, no log line
    expect(stdout).toContain('running');
    expect(records(stdout)).toEqual([]);
  }, 60_000);
});
