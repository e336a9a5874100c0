import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/program.js';
import { createDispatchbox } from '../src/index.js';

const root = path.join(import.meta.dirname, '..');
const dir = mkdtempSync(path.join(tmpdir(), 'dispatchbox-cli-'));
const dataDir = path.join(dir, 'data');
const env = { DISPATCHBOX_DATA_DIR: dataDir, DISPATCHBOX_LOG_LEVEL: 'warn', USER: 'tester' };
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `dispatchbox …args` in this process against the temp embedded database. */
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

async function sendId(...args: string[]): Promise<string> {
  const r = await cli('send', ...args);
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  const id = /sent \S+ ([0-9a-f-]{36}) \(pending\)/.exec(r.out)?.[1];
  expect(id, r.out).toBeDefined();
  return id!;
}

/** A handler module for `dispatchbox worker --handlers`: fails when the payload says so. */
function writeHandlers(): string {
  const handlers = path.join(dir, 'handlers');
  mkdirSync(handlers, { recursive: true });
  writeFileSync(
    path.join(handlers, 'charge-card.ts'),
    `export const domain = 'billing';
export const type = 'charge-card';
export async function handle(data: { fail?: boolean }) {
  if (data.fail) throw new Error('card declined');
  return { charged: true };
}
`,
  );
  return handlers;
}

/**
 * Runs `dispatchbox worker` as a child process until it has settled `expected` commands
 * (it logs each settled batch at debug level), then stops it with SIGTERM.
 */
async function runWorkerUntilSettled(
  handlers: string,
  expected: number,
): Promise<{ code: number | null; out: string }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'worker', '--handlers', handlers],
    {
      cwd: root,
      env: {
        ...process.env,
        ...env,
        DISPATCHBOX_LOG_LEVEL: 'debug',
        DISPATCHBOX_POLL_INTERVAL_MS: '100',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let settled = 0;
  let signalled = false;
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  let pending = '';
  child.stderr.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) {
      const record = JSON.parse(line) as { msg?: string; applied?: number };
      if (record.msg === 'settled') settled += record.applied ?? 0;
    }
    if (settled >= expected && !signalled) {
      signalled = true;
      child.kill('SIGTERM');
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { code, out };
}

describe('dispatchbox CLI on the embedded database', () => {
  it('sends, runs a worker, shows, and works the troubleshooting queue', async () => {
    expect((await cli('migrate')).out).toContain(
      'schema dispatchbox is up to date in the embedded database',
    );

    const ok = await sendId(
      'billing',
      'charge-card',
      '{"amountCents": 100}',
      '--priority',
      '5',
      '--idempotency-key',
      'order-1',
    );
    expect(
      await sendId(
        'billing',
        'charge-card',
        '{"amountCents": 100}',
        '--idempotency-key',
        'order-1',
      ),
    ).toBe(ok);
    const failing = await sendId('billing', 'charge-card', '{"fail": true}', '--max-attempts', '1');
    const another = await sendId('billing', 'charge-card', '{"fail": true}', '--max-attempts', '1');
    const delayed = await sendId('billing', 'charge-card', '{}', '--delay', '1h');

    const worker = await runWorkerUntilSettled(writeHandlers(), 3);
    expect(worker.code).toBe(0);
    expect(worker.out).toContain('running billing/charge-card');
    expect(worker.out).toContain('SIGTERM: stopping gracefully');
    expect(worker.out).toContain('worker stopped');

    const shown = await cli('show', ok);
    expect(shown.out).toMatch(/state\s+completed/);
    expect(shown.out).toMatch(/priority\s+5/);
    expect(shown.out).toContain('result       {"charged":true}');
    expect(shown.out).toMatch(/\(new\) → pending/);
    expect(shown.out).toMatch(/in_progress → completed/);

    const json = JSON.parse((await cli('show', failing, '--json')).out) as {
      command: { state: string; lastError: { message: string } };
      audit: { toState: string }[];
    };
    expect(json.command.state).toBe('troubleshooting');
    expect(json.command.lastError.message).toContain('card declined');
    expect(json.audit.map((a) => a.toState).at(-1)).toBe('troubleshooting');

    const listed = await cli('tsq', 'list', '--domain', 'billing', '--type', 'charge-card');
    expect(listed.out).toContain(failing);
    expect(listed.out).toContain(another);
    expect(listed.out).not.toContain(ok);
    expect((await cli('tsq', 'list', '--error-code', 'NO_SUCH_CODE')).out).toBe('(no commands)');
    expect(JSON.parse((await cli('tsq', 'list', '--json')).out)).toHaveLength(2);

    // Wrong-state actions are refused with one line, and change nothing.
    const refused = await cli('tsq', 'complete', ok);
    expect(refused.code).toBe(1);
    expect(refused.err).toBe(
      `dispatchbox: cannot complete command ${ok}: it is completed, and complete applies only to troubleshooting commands`,
    );
    expect((await cli('tsq', 'retry', delayed)).err).toContain(
      'it is pending, and retry applies only to troubleshooting',
    );

    const retried = await cli(
      'tsq',
      'retry',
      failing,
      '--actor',
      'alice',
      '--reason',
      'card replaced',
    );
    expect(retried.out).toBe(`retried ${failing}: now pending`);
    expect((await cli('show', failing)).out).toMatch(
      /troubleshooting → pending\s+attempt \d+\s+by alice\s+card replaced/,
    );
    expect((await cli('tsq', 'cancel', failing, '--reason', 'customer left')).out).toBe(
      `cancelled ${failing}: now cancelled`,
    );
    expect((await cli('tsq', 'cancel', failing)).err).toContain('it is cancelled');

    expect((await cli('tsq', 'complete', another, '{"refunded": true}')).out).toBe(
      `completed ${another}: now completed`,
    );
    const completed = JSON.parse((await cli('show', another, '--json')).out) as {
      command: { result: unknown };
      audit: { actor: string | null }[];
    };
    expect(completed.command.result).toEqual({ refunded: true });
    expect(completed.audit.at(-1)!.actor).toBe('tester');
  });

  it('shows a batch', async () => {
    const bus = await createDispatchbox({ dataDir, logger: undefined });
    let batchId: string;
    try {
      const batch = await bus.createBatch({
        name: 'nightly',
        commands: [1, 2, 3].map((n) => ({ domain: 'reports', type: 'render', data: { n } })),
      });
      batchId = batch.id;
    } finally {
      await bus.close();
    }
    const shown = await cli('batch', 'show', batchId);
    expect(shown.out).toMatch(/name\s+nightly/);
    expect(shown.out).toMatch(/total\s+3/);
    expect(shown.out).toMatch(/pending\s+3/);
    expect(JSON.parse((await cli('batch', 'show', batchId, '--json')).out)).toMatchObject({
      counts: { total: 3 },
    });
    const missing = await cli('batch', 'show', 'nope');
    expect([missing.code, missing.err]).toEqual([1, 'dispatchbox: no batch with id nope']);
  });

  it('refuses bad input with one line and stores nothing', async () => {
    const before = (await cli('tsq', 'list', '--json')).out;
    expect(await cli('send', 'billing', 'charge-card', '{oops}')).toMatchObject({
      code: 2,
      out: '',
    });
    expect((await cli('send', 'billing', 'charge-card', '{oops}')).err).toMatch(
      /^dispatchbox: the payload argument is not valid JSON/,
    );
    expect((await cli('send', 'bad domain', 't')).err).toMatch(
      /^dispatchbox: domain must be 1-128 characters/,
    );
    expect((await cli('send', 'billing', 't', '--priority', 'high')).err).toBe(
      'dispatchbox: --priority must be a whole number; got "high"',
    );
    expect((await cli('send', 'billing', 't', '--delay', 'later')).err).toContain('delay');
    expect((await cli('show', 'not-an-id')).err).toBe(
      'dispatchbox: no command with id not-an-id; check the id (dispatchbox show <id>)',
    );
    const unknown = await cli('tsq', 'frobnicate');
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain("unknown command 'frobnicate'");
    expect((await cli('tsq', 'list', '--json')).out).toBe(before);
  });

  it('prints the schema SQL without touching a database', async () => {
    const printed = await runCli(['migrate', '--print-sql', '--schema', 'my_app'], {
      env: { DISPATCHBOX_DATA_DIR: path.join(dir, 'never-created') },
      out: (t) => expect(t).toContain('CREATE SCHEMA IF NOT EXISTS "my_app"'),
      err: (t) => expect.fail(t),
      isTTY: false,
    });
    expect(printed).toBe(0);
  });
});

describe('the embedded database lock', () => {
  it('refuses a second process (here: a second holder) on the same data directory', async () => {
    const { lockDataDir } = await import('../src/backends/pglite/lock.js');
    const release = lockDataDir(path.join(dir, 'locked'));
    try {
      const r = await runCli(['tsq', 'list'], {
        env: { DISPATCHBOX_DATA_DIR: path.join(dir, 'locked') },
        out: () => {},
        err: (t) =>
          expect(t).toMatch(
            /^dispatchbox: the embedded database in .* is in use by this process \(pid \d+\).*; stop it/,
          ),
        isTTY: false,
      });
      expect(r).toBe(2);
    } finally {
      release();
    }
    expect(
      await runCli(['migrate'], {
        env: { DISPATCHBOX_DATA_DIR: path.join(dir, 'locked'), DISPATCHBOX_LOG_LEVEL: 'warn' },
        out: () => {},
        err: (t) => expect.fail(t),
        isTTY: false,
      }),
    ).toBe(0);
  });
});
