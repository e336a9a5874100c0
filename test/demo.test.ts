import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = path.join(import.meta.dirname, '..');
const dir = mkdtempSync(path.join(tmpdir(), 'dispatchbox-demo-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Starts `dispatchbox start …args` (what `npm start` runs) on a temp embedded database. */
function startDemo(args: string[], onLine: (line: string, stop: () => void) => void = () => {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'start', ...args], {
    cwd: root,
    env: { ...process.env, DISPATCHBOX_DATA_DIR: path.join(dir, String(Math.random()).slice(2)) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => {
    const text = chunk.toString();
    out += text;
    for (const line of text.split('\n')) onLine(line, () => child.kill('SIGINT'));
  });
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  return new Promise<{ code: number | null; out: string; err: string }>((resolve) =>
    child.on('exit', (code) => resolve({ code, out, err })),
  );
}

describe('npm start (the demo)', () => {
  it('runs for --duration seconds, prints a progress line a second, and exits 0', async () => {
    const r = await startDemo([
      '--duration',
      '3',
      '--count',
      '200',
      '--rate',
      '0',
      '--transient-pct',
      '20',
    ]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain(
      'sending 200 commands all at once; each attempt: 2% permanent failure, 20% transient failure',
    );
    const progress = r.out
      .split('\n')
      .filter((l) =>
        /^\[\d+s\] sent \d+\/200 \| pending \d+ {2}in_progress \d+ {2}completed \d+/.test(l),
      );
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(r.out).toContain('3s passed: stopping gracefully');
    expect(r.out).toMatch(/stopped\. this run: \{"started":\d+,"completed":\d+/);
  });

  it('stops gracefully on Ctrl-C (SIGINT) and exits 0', async () => {
    let signalled = false;
    const r = await startDemo(['--count', '100000', '--rate', '500'], (line, stop) => {
      if (!signalled && line.startsWith('[')) {
        signalled = true;
        stop();
      }
    });
    expect(r.code).toBe(0);
    expect(r.out).toContain('SIGINT: stopping gracefully');
    expect(r.out).toContain('stopped. this run:');
  });

  it('refuses bad demo settings before starting', async () => {
    const r = await startDemo(['--timeout-pct', 'often']);
    expect(r.code).toBe(2);
    expect(r.err.trim()).toBe(
      'dispatchbox: --timeout-pct must be a percentage from 0 to 100; got "often"',
    );
  });
});
