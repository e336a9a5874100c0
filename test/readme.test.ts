import { execFile } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cleanEnv,
  packPackage,
  ROOT,
  runProgram,
  scratchApp,
  type Finished,
} from './helpers/packed-app.js';
import { dropSchema, uniqueSchema } from './helpers/postgres.js';
import { deletePrefix, REDIS_URL } from './helpers/redis.js';
import { readmeBlocks, withTestUrls, type Store } from './helpers/readme-blocks.js';
import { POSTGRES_URL, requireServer } from './helpers/servers.js';

/**
 * The README as a user meets it: the package is packed as it would be published, installed
 * into a new application from the tarball (never from this checkout's source), and every
 * ```ts and ```sh block of the README runs there as written, on each store it names
 * (test/helpers/readme-blocks.ts says how a block says which, or that it does not run).
 */

const run = promisify(execFile);
const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const blocks = readmeBlocks(readme);
const work = mkdtempSync(path.join(tmpdir(), 'dispatchbox-readme-'));
const appDir = path.join(work, 'app');
let tarball = '';
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  await Promise.all([requireServer('PostgreSQL', 5432), requireServer('Redis', 6379)]);
  tarball = await packPackage(work);
  // What the README tells a user to install: the package, the driver of each server store,
  // and tsx to run TypeScript.
  await scratchApp(appDir, tarball, ['pg', 'ioredis', 'tsx']);
}, 240_000);

afterAll(async () => {
  for (const cleanup of cleanups) await cleanup().catch(() => {});
  rmSync(work, { recursive: true, force: true });
});

/** The environment that points a run at `store`, each run in a store of its own. */
function storeEnv(store: Store, dataDir: string): Record<string, string> {
  return { ...storeOnly(store, dataDir), DISPATCHBOX_HEALTH_PORT: '0' };
}

/** The store's variables; storeEnv adds no health endpoints (the runs go side by side). */
function storeOnly(store: Store, dataDir: string): Record<string, string> {
  if (store === 'embedded') return { DISPATCHBOX_DATA_DIR: dataDir };
  if (store === 'postgres') {
    const schema = uniqueSchema('readme');
    cleanups.push(() => dropSchema(POSTGRES_URL, schema));
    return {
      DISPATCHBOX_DATABASE_URL: POSTGRES_URL,
      DISPATCHBOX_SCHEMA: schema,
      DISPATCHBOX_MIGRATE: 'true',
    };
  }
  const prefix = uniqueSchema('readme');
  cleanups.push(() => deletePrefix(prefix));
  return { DISPATCHBOX_DATABASE_URL: REDIS_URL, DISPATCHBOX_SCHEMA: prefix };
}

/** The installed `dispatchbox` command. */
function dispatchbox(args: string[], env: Record<string, string>, cwd = appDir) {
  return run(path.join(appDir, 'node_modules', '.bin', 'dispatchbox'), args, {
    cwd,
    env,
    timeout: 120_000,
  });
}

/**
 * A bound for one test of this file: a few processes that each open a store, on a machine
 * that may be running other suites. A run that hangs still fails, at this bound.
 */
const RUN_TIMEOUT_MS = 180_000;

/** This checkout's TypeScript compiler and type packages, lent to the scratch app. */
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

function explain(r: Finished): string {
  return `exit ${r.code} (signal ${r.signal})\n--- stdout\n${r.out}\n--- stderr\n${r.err}`;
}

describe.concurrent('the README', () => {
  it('has the blocks this test must run: the example and a handler module', () => {
    const running = blocks.filter((b) => b.skip === undefined);
    expect(
      running.some((b) => b.lang === 'ts' && b.code.includes('createDispatchbox') && b.until),
    ).toBe(true);
    expect(running.some((b) => b.file !== undefined)).toBe(true);
    for (const b of blocks.filter((b) => b.skip !== undefined))
      expect(b.skip!.length, `the skip reason of the block at line ${b.line}`).toBeGreaterThan(10);
  });

  const programs = blocks.filter((b) => b.lang === 'ts' && !b.skip && !b.file);
  const cases = programs.flatMap((block) => block.stores.map((store) => ({ block, store })));
  it.each(cases.map((c) => [`line ${c.block.line} on ${c.store}`, c] as const))(
    'runs the ts block at %s',
    async (_, { block, store }) => {
      const dir = path.join(appDir, 'runs', `line-${block.line}-${store}`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, 'app.ts'), block.code);
      const env = cleanEnv(storeEnv(store, path.join(dir, '.dispatchbox')));
      // `npx tsx app.ts`, as the README says, with tsx's loader in the program's own process:
      // the `tsx` command relays SIGINT to a child and kills it (exit 130) when the child has
      // not acknowledged within 30 ms, which a loaded machine misses. The program's own
      // shutdown is what this test checks, not that relay.
      const r = await runProgram(process.execPath, ['--import', 'tsx', 'app.ts'], {
        cwd: dir,
        env,
        timeoutMs: 150_000,
        ...(block.until ? { until: (out: string) => out.includes(block.until!) } : {}),
      });
      expect(r.code, explain(r)).toBe(0);
      if (!block.until) return;
      // A program that runs a worker: everything it sent is completed, in the store it named.
      const { stdout } = await dispatchbox(['list', '--json', '--limit', '10000'], env, dir);
      const stored = JSON.parse(stdout) as { state: string }[];
      expect(stored.length, `commands in the ${store} store after the run`).toBeGreaterThan(0);
      expect(stored.map((c) => c.state)).toEqual(stored.map(() => 'completed'));
    },
    RUN_TIMEOUT_MS,
  );

  const shells = blocks.filter((b) => b.lang === 'sh' && !b.skip);
  const shellCases = shells.flatMap((block) => block.stores.map((store) => ({ block, store })));
  it.each(shellCases.map((c) => [`line ${c.block.line} on ${c.store}`, c] as const))(
    'runs the sh block at %s',
    async (_, { block, store }) => {
      // `npm install dispatchbox` installs the packed tarball; store URLs point at the
      // test servers. Everything else runs as written.
      const shim = `npm() { if [ "$1" = install ] || [ "$1" = i ]; then shift; local a=(); for x in "$@"; do if [ "$x" = dispatchbox ]; then a+=("${tarball}"); else a+=("$x"); fi; done; command npm install --prefer-offline --no-audit --no-fund "\${a[@]}"; else command npm "$@"; fi; }`;
      const script = `set -euo pipefail\n${shim}\n${withTestUrls(block.code, { postgres: POSTGRES_URL, redis: REDIS_URL })}\n`;
      const env = cleanEnv(storeEnv(store, path.join(work, `sh-${block.line}`)));
      const r = await runProgram('bash', ['-c', script], { cwd: appDir, env, timeoutMs: 120_000 });
      expect(r.code, explain(r)).toBe(0);
    },
    RUN_TIMEOUT_MS,
  );

  const files = blocks.filter((b) => b.file !== undefined && !b.skip);
  const fileCases = files.flatMap((block) =>
    (['embedded', 'postgres', 'redis'] as const).map((store) => ({ block, store })),
  );
  it.each(fileCases.map((c) => [`${c.block.file} on ${c.store}`, c] as const))(
    'runs the handler module %s with `dispatchbox worker --handlers`',
    async (_, { block, store }) => {
      // Each store's run in a folder of its own, so concurrent runs never see a half-written file.
      const cwd = path.join(appDir, 'stores', store);
      const file = path.join(cwd, block.file!);
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, block.code);
      const domain = /export const domain = '([^']+)'/.exec(block.code)?.[1];
      const type = /export const type = '([^']+)'/.exec(block.code)?.[1];
      expect([domain, type], 'the module exports domain and type').not.toContain(undefined);
      const env = cleanEnv({
        ...storeEnv(store, path.join(work, `handlers-${store}`)),
        DISPATCHBOX_LOG_LEVEL: 'debug',
        DISPATCHBOX_POLL_INTERVAL_MS: '100',
      });
      // As the README says: the embedded store migrates itself; a server store is migrated
      // once, by `dispatchbox migrate`.
      if (store !== 'embedded') await dispatchbox(['migrate'], env);
      const sent = JSON.parse(
        (await dispatchbox(['send', domain!, type!, '{}', '--json'], env)).stdout,
      ) as {
        id: string;
      };
      let settled = 0;
      const r = await runProgram(
        path.join(appDir, 'node_modules', '.bin', 'dispatchbox'),
        ['worker', '--handlers', path.dirname(block.file!)],
        {
          cwd,
          env,
          timeoutMs: 150_000,
          until: (_out, err) => {
            settled = err
              .split('\n')
              .filter((l) => l.includes('"msg":"settled"'))
              .reduce((n, l) => n + ((JSON.parse(l) as { applied?: number }).applied ?? 0), 0);
            return settled >= 1;
          },
        },
      );
      expect(r.code, explain(r)).toBe(0);
      expect(r.out).toContain(`running ${domain}/${type}`);
      expect(r.out).toContain('SIGINT: stopping gracefully');
      const shown = JSON.parse((await dispatchbox(['show', sent.id, '--json'], env)).stdout) as {
        command: { state: string };
      };
      expect(shown.command.state).toBe('completed');
    },
    RUN_TIMEOUT_MS,
  );
});

describe('the packed package', () => {
  const installed = () => path.join(appDir, 'node_modules', 'dispatchbox');

  it('ships the MIT LICENSE and says what its version is', async () => {
    expect(readFileSync(path.join(installed(), 'LICENSE'), 'utf8')).toMatch(
      /^MIT License\n\nCopyright \(c\) 2026 Dispatchbox contributors\n/,
    );
    const { version } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
      version: string;
    };
    expect((await dispatchbox(['--version'], cleanEnv())).stdout.trim()).toBe(version);
  });

  it('has source maps whose sources are in the package', () => {
    const dist = path.join(installed(), 'dist');
    const maps = readdirSync(dist, { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.map'))
      .map((f) => path.join(dist, f));
    expect(maps.length).toBeGreaterThan(20);
    const missing: string[] = [];
    for (const map of maps) {
      const { sources } = JSON.parse(readFileSync(map, 'utf8')) as { sources: string[] };
      for (const source of sources) {
        const resolved = path.resolve(path.dirname(map), source);
        if (!existsSync(resolved)) missing.push(`${path.relative(installed(), map)} → ${source}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it(
    'types every optional option as accepting undefined (exactOptionalPropertyTypes), and runs so',
    async () => {
      // A strict application compiles the README's TypeScript and a program that passes
      // undefined to every optional property of every public options type.
      const dir = path.join(appDir, 'typecheck');
      mkdirSync(dir, { recursive: true });
      copyFileSync(
        path.join(ROOT, 'test', 'packed', 'exact-optional.ts'),
        path.join(dir, 'exact-optional.ts'),
      );
      for (const b of blocks.filter((b) => b.lang === 'ts' && !b.skip))
        writeFileSync(path.join(dir, `readme-line-${b.line}.ts`), b.code);
      writeFileSync(
        path.join(dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            target: 'ES2022',
            module: 'NodeNext',
            moduleResolution: 'NodeNext',
            strict: true,
            exactOptionalPropertyTypes: true,
            noUncheckedIndexedAccess: true,
            // Third-party declarations (PGlite's, ioredis's) do not all compile under these
            // settings; the application's own use of the package is what is checked.
            skipLibCheck: true,
            noEmit: true,
            typeRoots: [path.join(ROOT, 'node_modules', '@types')],
            types: ['node'],
          },
          include: ['*.ts'],
        }),
      );
      const checked = await runProgram(process.execPath, [TSC, '-p', dir], {
        cwd: dir,
        env: cleanEnv(),
        timeoutMs: 120_000,
      });
      expect(checked.code, explain(checked)).toBe(0);
      const r = await runProgram(
        path.join(appDir, 'node_modules', '.bin', 'tsx'),
        ['exact-optional.ts'],
        {
          cwd: dir,
          env: cleanEnv(),
          timeoutMs: 120_000,
        },
      );
      expect(r.code, explain(r)).toBe(0);
      expect(JSON.parse(r.out.trim().split('\n').at(-1)!)).toEqual({
        listed: 3,
        states: ['completed', 'cancelled'],
        sent: 1,
        ready: 200,
        // the first command and the batch's, each completed once
        completed: 2,
      });
    },
    RUN_TIMEOUT_MS,
  );

  // Node 22.18+ and 23.6+ strip types by themselves (process.features.typescript), and
  // load a .ts handler module without tsx: the refusal is for the Node versions that cannot.
  it.runIf(!(process.features as { typescript?: unknown }).typescript)(
    'refuses TypeScript handlers without tsx, saying what to install',
    async () => {
      const bare = await scratchApp(path.join(work, 'bare-app'), tarball, []);
      const handlers = path.join(bare, 'handlers');
      mkdirSync(handlers);
      copyFileSync(
        path.join(ROOT, 'test', 'fixtures', 'handlers', 'send-email.ts'),
        path.join(handlers, 'send-email.ts'),
      );
      const r = await runProgram(
        path.join(bare, 'node_modules', '.bin', 'dispatchbox'),
        ['worker', '--handlers', 'handlers'],
        {
          cwd: bare,
          env: cleanEnv({ DISPATCHBOX_DATA_DIR: path.join(bare, 'data') }),
          timeoutMs: 120_000,
        },
      );
      expect(r.code, explain(r)).toBe(2);
      expect(r.err.trim()).toBe(
        `dispatchbox: ${path.join(handlers, 'send-email.ts')} is TypeScript, which Node cannot load by itself: install tsx next to dispatchbox (npm i -D tsx) and dispatchbox loads it, or compile your handlers to .js and point the handler directory (--handlers, DISPATCHBOX_HANDLERS_DIR) at the output`,
      );
    },
    RUN_TIMEOUT_MS,
  );

  it(
    'runs the store conformance suite of dispatchbox/testing/conformance under vitest, as docs/writing-a-store.md shows',
    async () => {
      const guide = readFileSync(path.join(ROOT, 'docs', 'writing-a-store.md'), 'utf8');
      const block = readmeBlocks(guide).find((b) => b.code.includes('runStoreConformance'));
      expect(block, 'docs/writing-a-store.md shows no runStoreConformance').toBeDefined();
      // vitest is an optional peer dependency: installed by the application that tests a store
      const { version } = JSON.parse(
        readFileSync(path.join(ROOT, 'node_modules', 'vitest', 'package.json'), 'utf8'),
      ) as { version: string };
      const app = await scratchApp(path.join(work, 'store-app'), tarball, [`vitest@${version}`]);
      writeFileSync(path.join(app, 'conformance.test.ts'), block!.code);
      const r = await runProgram(
        path.join(app, 'node_modules', '.bin', 'vitest'),
        ['run', '--reporter=verbose'],
        { cwd: app, env: cleanEnv({ NO_COLOR: '1' }), timeoutMs: 150_000 },
      );
      expect(r.code, explain(r)).toBe(0);
      expect(r.out).toMatch(/conformance: the embedded store > limits > /);
      expect(r.out).toMatch(/conformance: the embedded store > schema and maintenance > /);
      expect(r.out).toMatch(/Tests\s+(\d+) passed \(\1\)/);
    },
    RUN_TIMEOUT_MS,
  );
});
