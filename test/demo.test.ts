import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from './helpers/servers.js';

const root = path.join(import.meta.dirname, '..');
const dir = mkdtempSync(path.join(tmpdir(), 'dispatchbox-demo-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Starts `dispatchbox start …args` (what `npm start` runs) on a temp embedded database,
 * with its health endpoints on `healthPort` (none by default: tests run side by side).
 */
function startDemo(
  args: string[],
  onLine: (line: string, stop: () => void) => void = () => {},
  dataDir = path.join(dir, String(Math.random()).slice(2)),
  healthPort = 0,
) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'start', ...args], {
    cwd: root,
    env: {
      ...process.env,
      DISPATCHBOX_DATA_DIR: dataDir,
      DISPATCHBOX_HEALTH_PORT: String(healthPort),
      // the console on a free port: tests run side by side
      DISPATCHBOX_CONSOLE_PORT: '0',
    },
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
        /^\[\d+s\] this run: sent \d+\/200, completed \d+, retried \d+, troubleshooting \d+ \| store totals \(all runs\): pending \d+ {2}in_progress \d+ {2}completed \d+/.test(
          l,
        ),
      );
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(r.out).toContain('3s passed: stopping gracefully');
    expect(r.out).toMatch(/stopped\. this run: \{"started":\d+,"completed":\d+/);
  });

  it('serves /ready while it runs, stops gracefully on Ctrl-C (SIGINT) and exits 0', async () => {
    const port = await freePort();
    let signalled = false;
    let ready: unknown = null;
    const r = await startDemo(
      ['--count', '100000', '--rate', '500'],
      (line, stop) => {
        if (!signalled && line.startsWith('[')) {
          signalled = true;
          void fetch(`http://127.0.0.1:${port}/ready`)
            .then(async (response) => (ready = [response.status, await response.json()]))
            .catch((error: unknown) => (ready = error))
            .finally(stop);
        }
      },
      undefined,
      port,
    );
    expect(ready).toEqual([200, { status: 'ready' }]);
    expect(r.out).toContain(`health endpoints: http://127.0.0.1:${port}/health (liveness)`);
    expect(r.code).toBe(0);
    expect(r.out).toContain('SIGINT: stopping gracefully');
    expect(r.out).toContain('stopped. this run:');
  });

  it('tells this run from the store totals, and says when the load has drained', async () => {
    const dataDir = path.join(dir, 'twice');
    const calm = ['--count', '30', '--rate', '0', '--permanent-pct', '0', '--transient-pct', '0'];
    const untilDrained = (line: string, stop: () => void) => {
      if (line.startsWith('the load has drained')) stop();
    };
    const runs = [];
    for (let i = 0; i < 2; i++) {
      const r = await startDemo([...calm, '--timeout-pct', '0'], untilDrained, dataDir);
      expect(r.code, r.err).toBe(0);
      runs.push(r.out);
    }
    // The second run finds the first run's 30 completed commands in the store: its own
    // counts say 30, the store's 60.
    const second = runs[1]!;
    expect(second).toMatch(
      /^the load has drained after \d+s: all 30 commands sent and none waiting or running \(this run: 30 completed, 0 to troubleshooting\)\. Ctrl-C stops the demo/m,
    );
    const lines = second.split('\n').filter((l) => l.startsWith('['));
    expect(lines.at(-1)).toMatch(
      /this run: sent 30\/30, completed 30, retried 0, troubleshooting 0 \| store totals \(all runs\): pending 0 {2}in_progress 0 {2}completed 60 {2}cancelled 0 {2}troubleshooting 0/,
    );
    expect(second.match(/the load has drained/g)).toHaveLength(1);
  });

  it('refuses bad demo settings before starting', async () => {
    const r = await startDemo(['--timeout-pct', 'often']);
    expect(r.code).toBe(2);
    expect(r.err.trim()).toBe(
      'dispatchbox: --timeout-pct must be a percentage from 0 to 100; got "often"',
    );
  });
});
