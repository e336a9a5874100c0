import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import type { SqlBackend } from '../src/backends/sql/sql-backend.js';
import { runCli } from '../src/cli/program.js';
import { loadConfig } from '../src/config/index.js';
import { ConfigurationError } from '../src/core/errors.js';
import { createDispatchbox } from '../src/create.js';
import { dropSchema, uniqueSchema } from './helpers/postgres.js';
import { POSTGRES_URL, requireServer } from './helpers/servers.js';

/**
 * The database URL from a file (DISPATCHBOX_DATABASE_URL_FILE), as Kubernetes and Docker
 * mount secrets: in the CLI and in createDispatchbox, and never shown in an error.
 */

const postgresUp = await requireServer('PostgreSQL', 5432);
const dir = mkdtempSync(path.join(tmpdir(), 'dispatchbox-secrets-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const silent = pino({ level: 'silent' });

let files = 0;
/** A secret file holding `content`, as a mounted secret would. */
function secretFile(content: string): string {
  const file = path.join(dir, `secret-${++files}`);
  writeFileSync(file, content);
  return file;
}

function configError(env: Record<string, string>, flags: Record<string, unknown> = {}): string {
  try {
    loadConfig({ env, flags });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigurationError');
}

/** Fragments of the secret that must never appear in a message. */
const SECRET = 'postgres://app:hunter2@db-secret-host:5432/orders';
const FRAGMENTS = ['hunter2', 'db-secret-host', 'orders', 'app:'];

describe('DISPATCHBOX_DATABASE_URL_FILE', () => {
  it('reads the URL from the file, without its trailing newline', () => {
    const file = secretFile(`${SECRET}\n`);
    expect(loadConfig({ env: { DISPATCHBOX_DATABASE_URL_FILE: file } }).databaseUrl).toBe(SECRET);
    const crlf = secretFile(`${SECRET}\r\n`);
    expect(loadConfig({ env: { DISPATCHBOX_DATABASE_URL_FILE: crlf } }).databaseUrl).toBe(SECRET);
  });

  it('refuses the variable and the file set together', () => {
    const file = secretFile(SECRET);
    const message = configError({
      DISPATCHBOX_DATABASE_URL: 'postgres://127.0.0.1/db',
      DISPATCHBOX_DATABASE_URL_FILE: file,
    });
    expect(message).toBe(
      'DISPATCHBOX_DATABASE_URL and DISPATCHBOX_DATABASE_URL_FILE are both set; set only one (DISPATCHBOX_DATABASE_URL_FILE names a file that holds the value, as Kubernetes and Docker mount secrets)',
    );
  });

  it.each([
    ['missing', () => path.join(dir, 'no-such-file'), 'there is no such file'],
    [
      'a directory',
      () => {
        const d = path.join(dir, 'a-directory');
        mkdirSync(d, { recursive: true });
        return d;
      },
      'it is a directory',
    ],
    ['empty', () => secretFile('\n'), 'which is empty'],
  ])('refuses a file that is %s, naming its path', (_what, make, reason) => {
    const file = make();
    const message = configError({ DISPATCHBOX_DATABASE_URL_FILE: file });
    expect(message).toContain(`DISPATCHBOX_DATABASE_URL_FILE names ${file}`);
    expect(message).toContain(reason);
  });

  it.each([
    ['not a URL', 'postgres//app:hunter2@db-secret-host/orders', 'is not a valid URL; expected'],
    ['a wrong scheme', 'mysql://app:hunter2@db-secret-host/orders', 'has the scheme "mysql"'],
    ['no host', 'postgres:///orders?password=hunter2', 'has no host; expected'],
  ])('refuses a file holding %s without showing any of it', (_what, content, expected) => {
    const file = secretFile(`${content}\n`);
    const message = configError({ DISPATCHBOX_DATABASE_URL_FILE: file });
    expect(message).toContain(`DISPATCHBOX_DATABASE_URL_FILE (${file}) ${expected}`);
    for (const fragment of FRAGMENTS) expect(message).not.toContain(fragment);
  });

  it('gives way to the --database-url flag, which wins as over the variable', () => {
    const file = secretFile(SECRET);
    const config = loadConfig({
      env: { DISPATCHBOX_DATABASE_URL_FILE: file },
      flags: { databaseUrl: 'redis://127.0.0.1:6379' },
    });
    expect(config.databaseUrl).toBe('redis://127.0.0.1:6379');
  });

  it('in the CLI: a missing file is one line naming the path, exit 2', async () => {
    const file = path.join(dir, 'not-mounted');
    const err: string[] = [];
    const code = await runCli(['tsq', 'list'], {
      env: { DISPATCHBOX_DATABASE_URL_FILE: file },
      out: () => {},
      err: (t) => err.push(t),
      isTTY: false,
    });
    expect(code).toBe(2);
    expect(err).toHaveLength(1);
    expect(err[0]).toMatch(
      new RegExp(`^dispatchbox: DISPATCHBOX_DATABASE_URL_FILE names ${file}, which cannot be read`),
    );
  });

  it('in the library: a bad file is refused before anything opens, without its content', async () => {
    const file = secretFile('mysql://app:hunter2@db-secret-host/orders');
    const error = await createDispatchbox({
      logger: silent,
      env: { DISPATCHBOX_DATABASE_URL_FILE: file },
    }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigurationError);
    for (const fragment of FRAGMENTS) expect((error as Error).message).not.toContain(fragment);
  });

  it.runIf(postgresUp)(
    'in the CLI and the library: opens PostgreSQL from the file',
    async () => {
      const schema = uniqueSchema('secret');
      const file = secretFile(`${POSTGRES_URL}\n`);
      const env = {
        DISPATCHBOX_DATABASE_URL_FILE: file,
        DISPATCHBOX_SCHEMA: schema,
        DISPATCHBOX_LOG_LEVEL: 'warn',
      };
      try {
        const out: string[] = [];
        const err: string[] = [];
        const io = { env, out: (t: string) => out.push(t), err: (t: string) => err.push(t) };
        expect(await runCli(['migrate'], { ...io, isTTY: false })).toBe(0);
        expect(out.join('\n')).toContain(`schema ${schema}`);
        const sent = await runCli(['send', 'secret', 'check', '{}'], { ...io, isTTY: false });
        expect(err).toEqual([]);
        expect(sent).toBe(0);

        const bus = await createDispatchbox({ logger: silent, env });
        try {
          expect(bus.backend.kind).toBe('postgres');
          expect((bus.backend as SqlBackend).schema).toBe(schema);
          expect((await bus.countByState('secret')).pending).toBe(1);
        } finally {
          await bus.close();
        }
      } finally {
        await dropSchema(POSTGRES_URL, schema);
      }
    },
    30_000,
  );

  it.runIf(postgresUp)(
    'an unreachable server named in the file: reported after DISPATCHBOX_CONNECT_TIMEOUT_MS, password masked',
    async () => {
      const file = secretFile('postgres://app:hunter2@127.0.0.1:1/orders\n');
      const started = Date.now();
      const error = await createDispatchbox({
        logger: silent,
        env: { DISPATCHBOX_DATABASE_URL_FILE: file, DISPATCHBOX_CONNECT_TIMEOUT_MS: '300' },
      }).then(
        () => null,
        (e: unknown) => e,
      );
      expect((error as Error).message).toMatch(/could not reach PostgreSQL .* over 300 ms/);
      expect((error as Error).message).not.toContain('hunter2');
      // the default would have retried for 10 s
      expect(Date.now() - started).toBeLessThan(5000);
    },
    30_000,
  );
});
