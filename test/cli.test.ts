import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/program.js';
import { createDispatchbox, PermanentError } from '../src/index.js';
import { waitUntil } from './fixtures/wait-until.js';

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
        // test files run side by side: no health endpoints on the shared default port
        DISPATCHBOX_HEALTH_PORT: '0',
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
  }, 180_000);

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

  it('lists the workers of the store, as a table and as JSON', async () => {
    const bus = await createDispatchbox({ dataDir, logger: pino({ level: 'silent' }) });
    let workerId: string;
    try {
      bus.handle('registry', 'ping', () => Promise.resolve('pong'));
      const worker = await bus
        .worker({ domains: ['registry'], pollIntervalMs: 50, concurrency: 2 })
        .start();
      workerId = worker.workerId;
      await bus.send('registry', 'ping', {});
      await waitUntil(() => worker.stats.completed === 1, 10_000, 'the worker completed 1');
      await worker.stop();
    } finally {
      await bus.close();
    }
    const listed = JSON.parse((await cli('workers', '--json')).out) as {
      id: string;
      status: string;
      pid: number;
      domains: string[];
      concurrency: number;
      counters: Record<string, number>;
      stoppedAt: string | null;
    }[];
    expect(listed.find((w) => w.id === workerId)).toMatchObject({
      status: 'stopped',
      pid: process.pid,
      domains: ['registry'],
      concurrency: 2,
      counters: { completed: 1 },
    });
    const table = (await cli('workers')).out.split('\n');
    expect(table[0]).toMatch(/^ID\s+STATUS\s+HOST\s+PID\s+CONC\s+DONE/);
    const row = table.find((line) => line.startsWith(workerId.slice(0, 39)));
    expect(row).toMatch(/\bstopped\b.*\bregistry$/);
  });

  it('sends headers given with --header and shows them', async () => {
    const id = await sendId(
      'billing',
      'charge-card',
      '{}',
      '--header',
      'Tenant=acme',
      '--header',
      'note=a=b\u0007',
    );
    const shown = await cli('show', id);
    expect(shown.out).toMatch(/^headers {6}note: a=b\\u0007\n {13}tenant: acme$/m);
    expect(JSON.parse((await cli('show', id, '--json')).out)).toMatchObject({
      command: { headers: { tenant: 'acme', note: 'a=b\u0007' } },
    });
    expect((await cli('show', await sendId('billing', 'charge-card'))).out).toMatch(
      /^headers {6}-$/m,
    );
    const before = (await cli('list', '--json')).out;
    expect(await cli('send', 'billing', 'charge-card', '--header', 'tenant')).toEqual({
      code: 2,
      out: '',
      err: 'dispatchbox: --header must be name=value, e.g. --header tenant=acme; got "tenant"',
    });
    expect((await cli('send', 'billing', 't', '--header', 'a b=x')).err).toMatch(
      /^dispatchbox: headers\["a b"\]: a header name must be 1 to 128 characters/,
    );
    expect((await cli('send', 'billing', 't', '--header', 'a=1', '--header', 'a=2')).err).toBe(
      'dispatchbox: --header a is given twice; give it once',
    );
    expect((await cli('send', 'billing', 't', '--header', `v=${'x'.repeat(4097)}`)).err).toMatch(
      /over the limit of 4096/,
    );
    expect((await cli('list', '--json')).out).toBe(before);
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
    expect(unknown.code).toBe(2);
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

/** Runs the CLI against `dataDir2`, a database of its own for the tests below. */
const dataDir2 = path.join(dir, 'operator');
const quiet = pino({ level: 'silent' });
async function cli2(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, {
    env: { ...env, DISPATCHBOX_DATA_DIR: dataDir2 },
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    isTTY: false,
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** Sends `orders` billing commands that fail for good and `emails` that succeed; runs them. */
async function seed(orders: number, emails: number): Promise<void> {
  const bus = await createDispatchbox({ dataDir: dataDir2, logger: quiet });
  try {
    bus.handle('billing', 'charge-card', () => {
      throw new PermanentError('card declined', { code: 'DECLINED' });
    });
    bus.handle('email', 'send', () => ({ sent: true }));
    for (let i = 0; i < orders; i++) await bus.send('billing', 'charge-card', { i });
    for (let i = 0; i < emails; i++) await bus.send('email', 'send', { i });
    const worker = await bus.worker({ pollIntervalMs: 50 }).start();
    await waitUntil(
      async () => {
        const counts = await bus.countByState();
        return counts.troubleshooting === orders && counts.completed === emails;
      },
      30_000,
      'the seeded commands are settled',
    );
    await worker.stop();
  } finally {
    await bus.close();
  }
}

describe('dispatchbox CLI: version, usage errors, listings and bulk actions', () => {
  it('prints its version and exits 0', async () => {
    const { version } = JSON.parse(
      (await import('node:fs')).readFileSync(path.join(root, 'package.json'), 'utf8'),
    ) as { version: string };
    for (const flag of ['--version', '-V']) {
      expect(await cli(flag)).toEqual({ code: 0, out: version, err: '' });
    }
  });

  it('exits 2 on an unknown command, an unknown option or a missing argument', async () => {
    for (const args of [
      ['frobnicate'],
      ['tsq', 'frobnicate'],
      ['list', '--colour'],
      ['show'],
      ['tsq'],
    ]) {
      const r = await cli(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err, args.join(' ')).not.toContain('unexpected');
    }
    expect((await cli('frobnicate')).err).toMatch(/^error: unknown command 'frobnicate'/);
  });

  it('refuses a bad --delay with one line and exit 2, sending nothing', async () => {
    for (const delay of ['', 'later', '-5s', '99999999999d', '1000000000000000000']) {
      const r = await cli2('send', 'billing', 'charge-card', '--delay', delay);
      expect(r, `--delay ${JSON.stringify(delay)}`).toEqual({
        code: 2,
        out: '',
        err: `dispatchbox: --delay must be a duration such as '500ms', '30s', '5m', '2h' or '1d' (at most 10 years), or a number of milliseconds; got ${JSON.stringify(delay)}`,
      });
    }
    expect(JSON.parse((await cli2('list', '--json')).out)).toEqual([]);
    const later = await cli2('send', 'billing', 'charge-card', '--delay', '10m', '--json');
    const sent = JSON.parse(later.out) as { id: string; runAt: string };
    expect(Date.parse(sent.runAt) - Date.now()).toBeGreaterThan(9 * 60_000);
    expect((await cli2('tsq', 'cancel', sent.id)).code).toBe(0);
  });

  it('lists commands in any state, and says "N of M" when the listing is cut', async () => {
    await seed(3, 2);
    const completed = await cli2('list', '--state', 'completed', '--domain', 'email', '--json');
    const rows = JSON.parse(completed.out) as { state: string; domain: string }[];
    expect(rows.map((c) => [c.state, c.domain])).toEqual([
      ['completed', 'email'],
      ['completed', 'email'],
    ]);
    const all = await cli2('list');
    expect(all.out.split('\n')[0]).toMatch(/^ID\s+STATE\s+COMMAND/);
    expect(all.out).toMatch(/cancelled\s+billing\/charge-card/);
    expect(all.out).toMatch(/troubleshooting\s+billing\/charge-card/);
    expect(all.out).not.toContain(' of ');

    const cut = await cli2('list', '--state', 'troubleshooting', '--limit', '2');
    expect(cut.out.split('\n')).toHaveLength(4);
    expect(cut.out).toContain('2 of 3 shown; raise --limit or narrow the filter to see the rest');
    const tsqCut = await cli2('tsq', 'list', '--limit', '1', '--type', 'charge-card');
    expect(tsqCut.out).toContain('1 of 3 shown');
    expect((await cli2('tsq', 'list', '--limit', '3')).out).not.toContain(' of ');
    const byCode = await cli2('list', '--error-code', 'DECLINED', '--limit', '1');
    expect(byCode.out).toContain('1 of 3 shown');

    const bad = await cli2('list', '--state', 'finished');
    expect(bad).toEqual({
      code: 2,
      out: '',
      err: 'dispatchbox: --state must be one of pending, in_progress, completed, cancelled, troubleshooting; got "finished"',
    });
    expect((await cli2('list', '--limit', '0')).code).toBe(2);
  });

  it('retries and cancels by filter: counts first, acts only with --yes, audits each', async () => {
    const before = (await cli2('tsq', 'list', '--json')).out;
    const ids = (JSON.parse(before) as { id: string }[]).map((c) => c.id);
    expect(ids).toHaveLength(3);

    const dry = await cli2('tsq', 'retry', '--domain', 'billing', '--error-code', 'DECLINED');
    expect(dry).toEqual({
      code: 2,
      out: '',
      err: 'dispatchbox: 3 troubleshooting commands (domain billing, error code DECLINED) would be retried; nothing was changed: run again with --yes to do it',
    });
    expect((await cli2('tsq', 'list', '--json')).out).toBe(before);
    expect((await cli2('tsq', 'retry')).err).toBe(
      'dispatchbox: tsq retry needs a command id, or --domain, --type, --error-code or --all to act on many',
    );
    expect((await cli2('tsq', 'retry', ids[0]!, '--all')).code).toBe(2);
    const none = await cli2('tsq', 'cancel', '--domain', 'nowhere', '--yes');
    expect(none).toEqual({
      code: 0,
      out: 'no troubleshooting commands (domain nowhere): nothing to cancel',
      err: '',
    });

    const retried = await cli2(
      'tsq',
      'retry',
      '--domain',
      'billing',
      '--yes',
      '--actor',
      'alice',
      '--reason',
      'gateway fixed',
    );
    expect(retried).toEqual({
      code: 0,
      out: 'retried 3 of 3 troubleshooting commands (domain billing)',
      err: '',
    });
    for (const id of ids) {
      const shown = JSON.parse((await cli2('show', id, '--json')).out) as {
        command: { state: string };
        audit: { fromState: string; toState: string; actor: string; reason: string }[];
      };
      expect(shown.command.state).toBe('pending');
      expect(shown.audit.at(-1)).toMatchObject({
        fromState: 'troubleshooting',
        toState: 'pending',
        actor: 'alice',
        reason: 'gateway fixed',
      });
    }

    const bus = await createDispatchbox({ dataDir: dataDir2, logger: quiet });
    try {
      bus.handle('billing', 'charge-card', () => {
        throw new PermanentError('card declined', { code: 'DECLINED' });
      });
      const worker = await bus.worker({ pollIntervalMs: 50 }).start();
      await waitUntil(
        async () => (await bus.countByState('billing')).troubleshooting === 3,
        30_000,
        'the retried commands are back in troubleshooting',
      );
      await worker.stop();
    } finally {
      await bus.close();
    }

    const cancelled = await cli2('tsq', 'cancel', '--all', '--yes', '--json');
    expect(JSON.parse(cancelled.out)).toEqual({
      matched: 3,
      confirmed: true,
      acted: expect.arrayContaining(ids) as unknown,
      skipped: [],
    });
    const audit = JSON.parse((await cli2('show', ids[2]!, '--json')).out) as {
      audit: { toState: string; actor: string }[];
    };
    expect(audit.audit.at(-1)).toMatchObject({ toState: 'cancelled', actor: 'tester' });
    expect(JSON.parse((await cli2('tsq', 'list', '--json')).out)).toEqual([]);
  });
});
