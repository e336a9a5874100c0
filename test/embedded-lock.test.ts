import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createPGliteBackend } from '../src/backends/pglite/index.js';
import { ConfigurationError } from '../src/core/errors.js';
import { createDispatchbox } from '../src/create.js';

const silent = pino({ level: 'silent' });
const root = mkdtempSync(path.join(tmpdir(), 'dispatchbox-lock-'));
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

type Report = { opened?: boolean; id?: string; refused?: string; closed?: boolean; took?: boolean };

function start(fixture: string, dataDir: string): ChildProcess {
  const child = fork(fileURLToPath(new URL(`./fixtures/${fixture}`, import.meta.url)), [dataDir], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.push(child);
  return child;
}

async function report(child: ChildProcess): Promise<Report> {
  const [message] = (await once(child, 'message')) as [Report];
  return message;
}

/** An opener that holds `dataDir` after one acknowledged send; resolves to it and the id. */
async function holder(dataDir: string): Promise<{ child: ChildProcess; id: string }> {
  const child = start('embedded-opener.ts', dataDir);
  const r = await report(child);
  expect(r, JSON.stringify(r)).toMatchObject({ opened: true });
  return { child, id: r.id! };
}

async function commandIn(dataDir: string, id: string): Promise<string> {
  const bus = await createDispatchbox({ dataDir, env: {}, logger: silent });
  try {
    return (await bus.get(id)).state;
  } finally {
    await bus.close();
  }
}

describe('the embedded database directory is one opener’s at a time', () => {
  it('refuses a second process, naming the holder, and keeps every acknowledged send', async () => {
    const dataDir = path.join(root, 'two-processes');
    const first = await holder(dataDir);

    // A second process: refused, and told who holds the directory.
    const second = start('embedded-opener.ts', dataDir);
    const refusal = await report(second);
    expect(refusal.refused).toMatch(
      new RegExp(`in use by process ${first.child.pid} on ${hostname()} \\(embedded-opener\\.ts`),
    );
    // This process too, through both public entry points.
    await expect(createDispatchbox({ dataDir, env: {}, logger: silent })).rejects.toThrow(
      ConfigurationError,
    );
    await expect(createPGliteBackend({ dataDir })).rejects.toThrow(
      `in use by process ${first.child.pid}`,
    );

    first.child.send('close');
    expect(await report(first.child)).toMatchObject({ closed: true });
    await once(first.child, 'exit');
    expect(existsSync(`${dataDir}.lock`)).toBe(false);
    expect(await commandIn(dataDir, first.id)).toBe('pending');
  }, 60_000);

  it('takes over the lock of a holder killed with kill -9; its acknowledged send is kept', async () => {
    const dataDir = path.join(root, 'killed');
    const first = await holder(dataDir);
    first.child.kill('SIGKILL');
    await once(first.child, 'exit');
    expect(JSON.parse(readFileSync(`${dataDir}.lock`, 'utf8'))).toMatchObject({
      pid: first.child.pid,
    });

    const next = await holder(dataDir);
    next.child.send('close');
    await once(next.child, 'exit');
    expect(await commandIn(dataDir, first.id)).toBe('pending');
    expect(await commandIn(dataDir, next.id)).toBe('pending');
  }, 60_000);

  it('lets exactly one of several processes take over the same stale lock', async () => {
    const dataDir = path.join(root, 'race');
    const dead = start('lock-racer.ts', path.join(root, 'unused'));
    await report(dead);
    dead.kill('SIGKILL');
    await once(dead, 'exit');
    writeFileSync(
      `${dataDir}.lock`,
      JSON.stringify({ pid: dead.pid, host: hostname(), command: 'gone', since: 'then' }),
    );

    const racers = [1, 2, 3, 4].map(() => start('lock-racer.ts', dataDir));
    await Promise.all(racers.map(report)); // every one ready
    const outcomes = Promise.all(racers.map(report));
    for (const r of racers) r.send('go');
    const results = await outcomes;
    expect(results.filter((r) => r.took)).toHaveLength(1);
    const winner = racers[results.findIndex((r) => r.took)]!;
    for (const r of results.filter((r) => !r.took))
      expect(r.refused).toContain(`in use by process ${winner.pid}`);
    expect(JSON.parse(readFileSync(`${dataDir}.lock`, 'utf8'))).toMatchObject({
      pid: winner.pid,
    });
  }, 60_000);

  it('refuses a second opener in the same process, and frees the directory on close', async () => {
    const dataDir = path.join(root, 'same-process');
    const bus = await createDispatchbox({ dataDir, env: {}, logger: silent });
    await expect(createPGliteBackend({ dataDir })).rejects.toThrow(/in use by this process/);
    await bus.close();
    const again = await createPGliteBackend({ dataDir });
    await again.close();
  }, 60_000);
});
