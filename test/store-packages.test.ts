import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const main = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const hide = fileURLToPath(new URL('./fixtures/hide-packages.mjs', import.meta.url));

/** Runs the CLI in a process where `hidden` is not installed; resolves to its exit and stderr. */
async function withoutPackage(
  hidden: string,
  url: string,
): Promise<{ code: number; stderr: string }> {
  const result = await run(
    process.execPath,
    ['--import', 'tsx', '--import', hide, main, 'tsq', 'list'],
    { env: { ...process.env, DISPATCHBOX_TEST_HIDE: hidden, DISPATCHBOX_DATABASE_URL: url } },
  ).then(
    () => ({ code: 0, stderr: '' }),
    (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
  );
  return result;
}

describe('a store whose driver package is not installed', () => {
  it.each([
    ['pg', 'postgres://app:hunter2@127.0.0.1:5432/app', 'postgres://…'],
    ['ioredis', 'rediss://:hunter2@127.0.0.1:6379/0', 'redis://…'],
  ])(
    'without %s: says which package to install, in one line',
    async (pkg, url, scheme) => {
      const { code, stderr } = await withoutPackage(pkg, url);
      expect(stderr.trim()).toBe(
        `dispatchbox: install \`${pkg}\` to use ${scheme} (npm install ${pkg}); it is an optional dependency of Dispatchbox, needed only for this store`,
      );
      expect(code).toBe(2);
    },
    60_000,
  );
});
