import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/program.js';
import { createDispatchbox, PermanentError } from '../src/index.js';
import { waitUntil } from './fixtures/wait-until.js';

const dir = mkdtempSync(path.join(tmpdir(), 'dispatchbox-cli-edit-'));
const dataDir = path.join(dir, 'data');
const env = { DISPATCHBOX_DATA_DIR: dataDir, DISPATCHBOX_LOG_LEVEL: 'warn', USER: 'tester' };
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
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

/** A billing command that failed for good, in troubleshooting. */
async function troubled(): Promise<string> {
  const bus = await createDispatchbox({ dataDir, logger: pino({ level: 'silent' }) });
  try {
    bus.handle('billing', 'charge-card', () => {
      throw new PermanentError('card declined', { code: 'DECLINED' });
    });
    const sent = await bus.send('billing', 'charge-card', { card: '0000' });
    const worker = await bus.worker({ pollIntervalMs: 50 }).start();
    await waitUntil(
      async () => (await bus.get(sent.id)).state === 'troubleshooting',
      30_000,
      'the command is in troubleshooting',
    );
    await worker.stop();
    return sent.id;
  } finally {
    await bus.close();
  }
}

describe('dispatchbox tsq retry --data: edit then retry', () => {
  it('refuses bad JSON, or --data with a filter, changing nothing', async () => {
    const id = await troubled();
    const before = (await cli('show', id, '--json')).out;
    const bad = await cli('tsq', 'retry', id, '--data', '{card: 1}');
    expect(bad.code).toBe(2);
    expect(bad.out).toBe('');
    expect(bad.err).toMatch(
      /^dispatchbox: the --data payload is not valid JSON \(.+\); quote it for the shell, e\.g\. '\{"orderId": 42\}'$/,
    );
    expect(await cli('tsq', 'retry', '--all', '--yes', '--data', '{}')).toEqual({
      code: 2,
      out: '',
      err: 'dispatchbox: tsq retry --data edits one command: give its id (a filter retries many, unedited)',
    });
    expect((await cli('show', id, '--json')).out).toBe(before);
  });

  it('replaces the payload, and show prints both payloads under the retry', async () => {
    const id = await troubled();
    const retried = await cli(
      'tsq',
      'retry',
      id,
      '--data',
      '{"card": "4242"}',
      '--reason',
      'new card',
    );
    expect(retried).toEqual({ code: 0, out: `retried ${id}: now pending`, err: '' });
    const shown = (await cli('show', id)).out;
    expect(shown).toMatch(
      /troubleshooting → pending .* by tester {2}new card\n {26}payload before: \{"card":"0000"\}\n {26}payload after: {2}\{"card":"4242"\}/,
    );
    const json = JSON.parse((await cli('show', id, '--json')).out) as {
      command: { data: unknown; state: string };
      audit: { actor: string | null; details?: unknown }[];
    };
    expect(json.command).toMatchObject({ data: { card: '4242' }, state: 'pending' });
    expect(json.audit.at(-1)).toMatchObject({
      actor: 'tester',
      details: { dataBefore: { card: '0000' }, dataAfter: { card: '4242' } },
    });
  });
});
