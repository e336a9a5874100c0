import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SqlBackend } from '../src/backends/sql/sql-backend.js';
import { runCli } from '../src/cli/program.js';
import {
  DEMO_SETTINGS,
  SETTINGS,
  loadConfig,
  loadDemoConfig,
  toCreateOptions,
  toWorkerOptions,
  createLogger,
} from '../src/config/index.js';
import { ConfigurationError, UnknownHandlerError } from '../src/core/errors.js';
import { createDispatchbox } from '../src/create.js';
import { waitUntil } from './fixtures/wait-until.js';
import { dropSchema, uniqueSchema } from './helpers/postgres.js';
import { POSTGRES_URL, reachable } from './helpers/servers.js';

const postgresUp = await reachable(5432);

function configError(env: Record<string, string>, flags: Record<string, unknown> = {}): string {
  try {
    loadConfig({ env, flags });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigurationError');
}

describe('configuration from DISPATCHBOX_* variables', () => {
  it('has documented defaults when nothing is set', () => {
    const config = loadConfig({ env: {} });
    expect(config).toMatchObject({
      databaseUrl: undefined,
      dataDir: './.dispatchbox',
      schema: 'dispatchbox',
      migrate: undefined,
      concurrency: 10,
      leaseMs: 30_000,
      pollIntervalMs: 1000,
      shutdownTimeoutMs: 10_000,
      retentionMs: 7 * 24 * 3600_000,
      maxPayloadBytes: 1024 * 1024,
      strict: false,
      // unset: the CLI says info, an application warn (see createDispatchbox)
      logLevel: undefined,
      logFormat: 'auto',
      domains: undefined,
      types: undefined,
      handlersDir: undefined,
    });
  });

  it('reads every variable and hands it to createDispatchbox and bus.worker', () => {
    const config = loadConfig({
      env: {
        DISPATCHBOX_DATABASE_URL: 'postgres://app:secret@127.0.0.1:5432/app',
        DISPATCHBOX_SCHEMA: 'jobs',
        DISPATCHBOX_MIGRATE: 'true',
        DISPATCHBOX_POOL_SIZE: '4',
        DISPATCHBOX_CONCURRENCY: '50',
        DISPATCHBOX_LEASE_MS: '60000',
        DISPATCHBOX_POLL_INTERVAL_MS: '250',
        DISPATCHBOX_SHUTDOWN_TIMEOUT_MS: '0',
        DISPATCHBOX_RETENTION: '12h',
        DISPATCHBOX_MAX_PAYLOAD_BYTES: '2048',
        DISPATCHBOX_STRICT: 'yes',
        DISPATCHBOX_LOG_LEVEL: 'WARN',
        DISPATCHBOX_DOMAINS: 'billing, email,',
        DISPATCHBOX_TYPES: 'charge-card',
        DISPATCHBOX_HANDLERS_DIR: './handlers',
      },
    });
    const logger = createLogger(config.logLevel ?? 'info');
    expect(toCreateOptions(config, logger)).toMatchObject({
      databaseUrl: 'postgres://app:secret@127.0.0.1:5432/app',
      schema: 'jobs',
      migrate: true,
      poolSize: 4,
      strict: true,
      maxPayloadBytes: 2048,
    });
    expect(toWorkerOptions(config)).toEqual({
      concurrency: 50,
      leaseMs: 60_000,
      pollIntervalMs: 250,
      shutdownTimeoutMs: 0,
      retentionMs: 12 * 3600_000,
      domains: ['billing', 'email'],
      types: ['charge-card'],
    });
    expect(config.logLevel).toBe('warn');
    expect(config.handlersDir).toBe('./handlers');
  });

  it('gives the store a timeout of a third of the lease, at most 10 s', () => {
    const logger = createLogger('silent');
    const storeTimeout = (env: Record<string, string>) =>
      toCreateOptions(loadConfig({ env }), logger).storeTimeoutMs;
    expect(storeTimeout({})).toBe(10_000);
    expect(storeTimeout({ DISPATCHBOX_LEASE_MS: '6000' })).toBe(2000);
    expect(storeTimeout({ DISPATCHBOX_LEASE_MS: '120000' })).toBe(10_000);
    // set, it wins over the lease's third
    expect(
      storeTimeout({ DISPATCHBOX_LEASE_MS: '6000', DISPATCHBOX_STORE_TIMEOUT_MS: '1500' }),
    ).toBe(1500);
    expect(configError({ DISPATCHBOX_STORE_TIMEOUT_MS: '50' })).toBe(
      'DISPATCHBOX_STORE_TIMEOUT_MS must be a whole number of milliseconds from 100 to 600000; got "50"',
    );
  });

  it('lets a flag win over its variable, and names the flag when the flag is wrong', () => {
    expect(
      loadConfig({ env: { DISPATCHBOX_CONCURRENCY: '3' }, flags: { concurrency: '7' } })
        .concurrency,
    ).toBe(7);
    expect(configError({ DISPATCHBOX_CONCURRENCY: '3' }, { concurrency: 'lots' })).toBe(
      '--concurrency must be a whole number from 1 to 10000; got "lots"',
    );
  });

  it.each([
    [
      'DISPATCHBOX_CONCURRENCY',
      'abc',
      'DISPATCHBOX_CONCURRENCY must be a whole number from 1 to 10000; got "abc"',
    ],
    ['DISPATCHBOX_CONCURRENCY', '0', 'from 1 to 10000'],
    ['DISPATCHBOX_CONCURRENCY', '2.5', 'from 1 to 10000'],
    [
      'DISPATCHBOX_LEASE_MS',
      '10',
      'DISPATCHBOX_LEASE_MS must be a whole number of milliseconds from 1000',
    ],
    ['DISPATCHBOX_POLL_INTERVAL_MS', '-1', 'DISPATCHBOX_POLL_INTERVAL_MS must be'],
    ['DISPATCHBOX_SHUTDOWN_TIMEOUT_MS', 'soon', 'DISPATCHBOX_SHUTDOWN_TIMEOUT_MS must be'],
    [
      'DISPATCHBOX_RETENTION',
      '7x',
      "DISPATCHBOX_RETENTION must be a duration of at least one minute such as '7d'",
    ],
    ['DISPATCHBOX_RETENTION', '5s', 'DISPATCHBOX_RETENTION must be'],
    [
      'DISPATCHBOX_MAX_PAYLOAD_BYTES',
      '1e9',
      'DISPATCHBOX_MAX_PAYLOAD_BYTES must be a whole number of bytes',
    ],
    ['DISPATCHBOX_STRICT', 'maybe', 'DISPATCHBOX_STRICT must be true or false; got "maybe"'],
    ['DISPATCHBOX_MIGRATE', 'sure', 'DISPATCHBOX_MIGRATE must be true or false'],
    [
      'DISPATCHBOX_LOG_LEVEL',
      'loud',
      'DISPATCHBOX_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent',
    ],
    ['DISPATCHBOX_SCHEMA', 'My-Schema', 'DISPATCHBOX_SCHEMA must be lower-case letters'],
    [
      'DISPATCHBOX_DOMAINS',
      'billing,bad name',
      'DISPATCHBOX_DOMAINS must be a comma-separated list of domain names',
    ],
    ['DISPATCHBOX_TYPES', ',', 'DISPATCHBOX_TYPES must be a comma-separated list'],
    ['DISPATCHBOX_POOL_SIZE', '0', 'DISPATCHBOX_POOL_SIZE must be a whole number from 1 to 1000'],
  ])('refuses %s=%s with a message naming the variable', (name, value, expected) => {
    expect(configError({ [name]: value })).toContain(expected);
  });

  it('lists every bad variable at once', () => {
    const message = configError({ DISPATCHBOX_CONCURRENCY: 'x', DISPATCHBOX_STRICT: 'x' });
    expect(message.split('\n')).toHaveLength(2);
  });

  it.each([
    ['not a url', 'DISPATCHBOX_DATABASE_URL is not a valid URL'],
    [
      'mysql://u:p@h/db',
      'DISPATCHBOX_DATABASE_URL has the scheme "mysql"; accepted are postgres://',
    ],
    [
      'postgres://u:hunter2@/db',
      'DISPATCHBOX_DATABASE_URL is not a valid URL (postgres://u:***@/db)',
    ],
    ['postgres:///db', 'DISPATCHBOX_DATABASE_URL has no host'],
  ])(
    'refuses the malformed DISPATCHBOX_DATABASE_URL %s without echoing a password',
    (url, expected) => {
      const message = configError({ DISPATCHBOX_DATABASE_URL: url });
      expect(message).toContain(expected);
      expect(message).not.toContain('hunter2');
    },
  );

  it('validates the demo settings, including their sum', () => {
    expect(loadDemoConfig({ env: {} })).toMatchObject({
      count: 2000,
      permanentPct: 2,
      durationS: undefined,
    });
    expect(
      loadDemoConfig({ env: { DISPATCHBOX_DEMO_COUNT: '5' }, flags: { duration: '3' } }),
    ).toMatchObject({
      count: 5,
      durationS: 3,
    });
    expect(() => loadDemoConfig({ env: { DISPATCHBOX_DEMO_TRANSIENT_PCT: '120' } })).toThrow(
      'DISPATCHBOX_DEMO_TRANSIENT_PCT must be a percentage from 0 to 100; got "120"',
    );
    expect(() =>
      loadDemoConfig({ env: {}, flags: { permanentPct: '60', transientPct: '50' } }),
    ).toThrow('must add up to at most 100; got 111');
    expect(() =>
      loadDemoConfig({ env: { DISPATCHBOX_DEMO_MIN_MS: '90', DISPATCHBOX_DEMO_MAX_MS: '10' } }),
    ).toThrow('DISPATCHBOX_DEMO_MIN_MS (--min-ms) must not exceed DISPATCHBOX_DEMO_MAX_MS');
  });

  it('is documented: docs/configuration.md names every variable in its table', () => {
    const page = readFileSync(
      path.join(import.meta.dirname, '..', 'docs', 'configuration.md'),
      'utf8',
    );
    for (const s of [...Object.values(SETTINGS), ...Object.values(DEMO_SETTINGS)]) {
      expect(page, `${s.env} missing from docs/configuration.md`).toContain(`| \`${s.env}\``);
    }
    // and the README links to it
    const readme = readFileSync(path.join(import.meta.dirname, '..', 'README.md'), 'utf8');
    expect(readme).toContain('(docs/configuration.md)');
  });
});

describe('the CLI with bad configuration', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dispatchbox-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints one line naming the variable, exits 2, and starts nothing', async () => {
    const dataDir = path.join(dir, 'data');
    const err: string[] = [];
    const code = await runCli(['worker', '--handlers', dir], {
      env: { DISPATCHBOX_DATA_DIR: dataDir, DISPATCHBOX_CONCURRENCY: 'abc' },
      out: () => {},
      err: (t) => err.push(t),
      isTTY: false,
    });
    expect(code).toBe(2);
    expect(err).toEqual([
      'dispatchbox: DISPATCHBOX_CONCURRENCY must be a whole number from 1 to 10000; got "abc"',
    ]);
    expect(existsSync(dataDir)).toBe(false);
  });

  it('refuses a malformed DISPATCHBOX_DATABASE_URL before connecting', async () => {
    const err: string[] = [];
    const code = await runCli(['tsq', 'list'], {
      env: { DISPATCHBOX_DATABASE_URL: 'postgress//localhost/db' },
      out: () => {},
      err: (t) => err.push(t),
      isTTY: false,
    });
    expect(code).toBe(2);
    expect(err.join('\n')).toMatch(/^dispatchbox: DISPATCHBOX_DATABASE_URL is not a valid URL/);
  });

  it('gives a clear message after retrying a PostgreSQL server that cannot be reached', async () => {
    const err: string[] = [];
    const code = await runCli(['tsq', 'list'], {
      env: { DISPATCHBOX_DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nowhere' },
      out: () => {},
      err: (t) => err.push(t),
      isTTY: false,
    });
    expect(code).toBe(1);
    expect(err.join('\n')).toMatch(
      /could not reach PostgreSQL at 127\.0\.0\.1:1\/nowhere after \d+ attempts/,
    );
    expect(err.join('\n')).toContain('Check DISPATCHBOX_DATABASE_URL');
  }, 30_000);
});

describe('createDispatchbox reads the same DISPATCHBOX_* variables as the CLI', () => {
  const silent = pino({ level: 'silent' });
  const variables = ['DISPATCHBOX_DATABASE_URL', 'DISPATCHBOX_SCHEMA', 'DISPATCHBOX_MIGRATE'];
  afterEach(() => {
    for (const name of variables) delete process.env[name];
  });

  it.runIf(postgresUp)(
    'opens PostgreSQL from DISPATCHBOX_DATABASE_URL and migrates by DISPATCHBOX_MIGRATE',
    async () => {
      const schema = uniqueSchema('env');
      process.env.DISPATCHBOX_DATABASE_URL = POSTGRES_URL;
      process.env.DISPATCHBOX_SCHEMA = schema;
      // Without DISPATCHBOX_MIGRATE a new PostgreSQL schema is refused, as the error says.
      await expect(createDispatchbox({ logger: silent })).rejects.toThrow(
        /run `dispatchbox migrate`|DISPATCHBOX_MIGRATE=true/,
      );
      process.env.DISPATCHBOX_MIGRATE = 'true';
      const bus = await createDispatchbox({ logger: silent });
      try {
        expect(bus.backend.kind).toBe('postgres');
        expect((bus.backend as SqlBackend).schema).toBe(schema);
        const sent = await bus.send('env', 'check', {});
        expect((await bus.get(sent.id)).state).toBe('pending');
      } finally {
        await bus.close();
        await dropSchema(POSTGRES_URL, schema);
      }
    },
    30_000,
  );

  it('lets an option given in code win over its variable', async () => {
    const bus = await createDispatchbox({
      dataDir: 'memory',
      schema: 'from_option',
      maxPayloadBytes: 1000,
      logger: silent,
      env: {
        DISPATCHBOX_DATABASE_URL: '',
        DISPATCHBOX_SCHEMA: 'from_env',
        DISPATCHBOX_MAX_PAYLOAD_BYTES: '10',
        DISPATCHBOX_STRICT: 'true',
      },
    });
    try {
      expect((bus.backend as SqlBackend).schema).toBe('from_option');
      // strict from the environment (no option given): an unregistered type is refused
      await expect(bus.send('env', 'unregistered', {})).rejects.toThrow(UnknownHandlerError);
      bus.handle('env', 'registered', async () => {});
      // 100 bytes: over the variable's 10, under the option's 1000
      await bus.send('env', 'registered', { text: 'x'.repeat(90) });
    } finally {
      await bus.close();
    }
  }, 30_000);

  it('gives its workers the worker variables (DISPATCHBOX_CONCURRENCY)', async () => {
    const bus = await createDispatchbox({
      dataDir: 'memory',
      logger: silent,
      env: { DISPATCHBOX_CONCURRENCY: '1', DISPATCHBOX_POLL_INTERVAL_MS: '50' },
    });
    let running = 0;
    let most = 0;
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    bus.handle('env', 'hold', async () => {
      most = Math.max(most, ++running);
      await gate;
      running--;
    });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await bus.send('env', 'hold', {})).id);
    const worker = await bus.worker().start();
    try {
      // Under a concurrency of 10, all three would start together from one claim.
      await waitUntil(() => running > 0, 15_000, 'the first handler started');
      expect(most).toBe(1);
      open();
      await waitUntil(
        async () =>
          (await Promise.all(ids.map((id) => bus.get(id)))).every((c) => c.state === 'completed'),
        15_000,
        'the three commands completed',
      );
      expect(most).toBe(1);
    } finally {
      open();
      await worker.stop();
      await bus.close();
    }
  }, 30_000);

  it('refuses a bad variable with the CLI’s message, before opening anything', async () => {
    const dataDir = path.join(tmpdir(), `dispatchbox-never-${process.pid}`);
    const error = await createDispatchbox({
      logger: silent,
      env: { DISPATCHBOX_DATA_DIR: dataDir, DISPATCHBOX_CONCURRENCY: 'abc' },
    }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toBe(
      'DISPATCHBOX_CONCURRENCY must be a whole number from 1 to 10000; got "abc"',
    );
    expect(existsSync(dataDir)).toBe(false);
  });
});

describe('a data directory that cannot hold the embedded database', () => {
  // Made when the tests run, not when they are collected: a filtered run leaves nothing.
  const file = path.join(tmpdir(), `dispatchbox-datadir-${process.pid}-a-file`);
  beforeAll(() => writeFileSync(file, 'not a directory'));
  afterAll(() => rmSync(file, { force: true }));

  it.each([
    ['a file', file, `the data directory ${file} is a file, not a directory`],
    [
      'under a file',
      path.join(file, 'data'),
      `the data directory ${path.join(file, 'data')} lies under a file, not a directory`,
    ],
    // /sys refuses new entries even to root (chmod does not stop root)
    [
      'unwritable',
      '/sys/dispatchbox-data',
      'the data directory /sys/dispatchbox-data is not writable',
    ],
  ])('is %s: one clear line and exit 2, at once', async (_what, dataDir, expected) => {
    const err: string[] = [];
    const started = Date.now();
    const code = await runCli(['tsq', 'list'], {
      env: { DISPATCHBOX_DATA_DIR: dataDir },
      out: () => {},
      err: (t) => err.push(t),
      isTTY: false,
    });
    expect(code).toBe(2);
    expect(err).toHaveLength(1);
    expect(err[0]).toContain(`dispatchbox: ${expected}`);
    expect(err[0]).toContain(
      'set DISPATCHBOX_DATA_DIR (dataDir) to a directory this process can write',
    );
    // Refused before PGlite starts (which took 25 s to fail): well under that on any machine.
    expect(Date.now() - started).toBeLessThan(5000);
    await expect(createDispatchbox({ dataDir, env: {} })).rejects.toThrow(ConfigurationError);
  });
});
