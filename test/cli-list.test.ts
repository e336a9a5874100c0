import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/program.js';
import { createDispatchbox } from '../src/index.js';

const dir = mkdtempSync(path.join(tmpdir(), 'dispatchbox-cli-list-'));
const dataDir = path.join(dir, 'data');
const env = { DISPATCHBOX_DATA_DIR: dataDir, DISPATCHBOX_LOG_LEVEL: 'warn', USER: 'tester' };
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `dispatchbox list …args --json` in this process against the temp embedded database. */
async function list(...args: string[]): Promise<{ code: number; ns: number[]; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(['list', ...args, '--json'], {
    env,
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    isTTY: false,
  });
  const ns = code === 0 ? (JSON.parse(out.join('\n')) as { data: { n: number } }[]) : [];
  return { code, ns: ns.map((c) => c.data.n), err: err.join('\n') };
}

let rootId = '';
let batchId = '';

beforeAll(async () => {
  const bus = await createDispatchbox({ dataDir, logger: pino({ level: 'silent' }) });
  try {
    const root = await bus.send('shop', 'order', { n: 0, note: 'Half price: 50% OFF' });
    rootId = root.id;
    await bus.send(
      'shop',
      'ship',
      { n: 1, note: 'snake_case' },
      {
        correlationId: root.correlationId!,
        causationId: root.id,
      },
    );
    await bus.send(
      'mail',
      'notify',
      { n: 2, note: 'snakeXcase' },
      {
        correlationId: root.correlationId!,
      },
    );
    batchId = (
      await bus.createBatch({
        commands: [3, 4].map((n) => ({ domain: 'shop', type: 'bill', data: { n } })),
      })
    ).id;
  } finally {
    await bus.close();
  }
});

describe('dispatchbox list: batch, correlation, causation, time and text filters', () => {
  it('lists by each filter, oldest or newest first', async () => {
    expect(await list()).toEqual({ code: 0, ns: [0, 1, 2, 3, 4], err: '' });
    expect((await list('--newest-first')).ns).toEqual([4, 3, 2, 1, 0]);
    expect((await list('--newest-first', '--limit', '2')).ns).toEqual([4, 3]);
    expect((await list('--batch', batchId)).ns).toEqual([3, 4]);
    expect((await list('--batch', batchId.toUpperCase())).ns).toEqual([3, 4]);
    expect((await list('--correlation-id', rootId)).ns).toEqual([0, 1, 2]);
    expect((await list('--correlation-id', rootId, '--domain', 'mail')).ns).toEqual([2]);
    expect((await list('--caused-by', rootId)).ns).toEqual([1]);
    expect((await list('--text', '50% off')).ns).toEqual([0]);
    expect((await list('--text', 'E_C')).ns).toEqual([1]);
    expect((await list('--since', '1h')).ns).toEqual([0, 1, 2, 3, 4]);
    expect((await list('--until', '1h')).ns).toEqual([]);
    expect((await list('--since', '2000-01-01T00:00:00Z', '--until', '2999-01-01')).ns).toEqual([
      0, 1, 2, 3, 4,
    ]);
    expect((await list('--since', new Date(Date.now() + 60_000).toISOString())).ns).toEqual([]);
  });

  it('refuses a bad value with exit code 2, naming the flag', async () => {
    const refused = async (...args: string[]) => {
      const r = await list(...args);
      expect(r.code).toBe(2);
      return r.err;
    };
    expect(await refused('--batch', 'nightly')).toMatch(/^dispatchbox: --batch must be an id/);
    expect(await refused('--caused-by', '42')).toMatch(/^dispatchbox: --caused-by must be an id/);
    expect(await refused('--since', 'yesterday')).toMatch(
      /^dispatchbox: --since must be an ISO 8601 time .* got "yesterday"/,
    );
    expect(await refused('--until', '2026-13-45')).toMatch(/^dispatchbox: --until must be/);
    expect(await refused('--text', '')).toMatch(/^dispatchbox: --text must not be empty/);
    expect(await refused('--since', '1h', '--until', '2h')).toMatch(
      /^dispatchbox: --since \(.*\) must be before --until/,
    );
  });
});
