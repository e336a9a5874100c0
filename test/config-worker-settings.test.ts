import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/program.js';
import { loadConfig, toCreateOptions, toWorkerOptions } from '../src/config/index.js';
import { ConfigurationError } from '../src/core/errors.js';
import { createDispatchbox } from '../src/create.js';
import type { Worker } from '../src/worker/worker.js';
import { waitUntil } from './fixtures/wait-until.js';

/**
 * The worker and handler settings added for deployments: each variable and flag is
 * validated at start, and a good value reaches the worker or the handler registration.
 */

const root = path.join(import.meta.dirname, '..');
const dir = mkdtempSync(path.join(tmpdir(), 'dispatchbox-worker-settings-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const silent = pino({ level: 'silent' });

function configError(env: Record<string, string>, flags: Record<string, unknown> = {}): string {
  try {
    loadConfig({ env, flags });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigurationError');
}

/** What the worker resolved from its options (private: read here to see the value arrived). */
function resolved(worker: Worker) {
  return worker as unknown as {
    claimBatchSize: number;
    prefetch: number | object;
    maxUnwrittenOutcomes: number;
    services: {
      batches: object | null;
      registration: { service: { everyMs: number } } | null;
    };
  };
}

describe('worker and handler settings from variables and flags', () => {
  it('reads each variable and hands it to bus.worker and handler registration', () => {
    const config = loadConfig({
      env: {
        DISPATCHBOX_WORKER_ID: 'orders-7f9c-x2',
        DISPATCHBOX_CLAIM_BATCH_SIZE: '50',
        DISPATCHBOX_PREFETCH: '0',
        DISPATCHBOX_MAX_UNWRITTEN_OUTCOMES: '800',
        DISPATCHBOX_MAINTENANCE: 'false',
        DISPATCHBOX_REGISTRATION_REFRESH_MS: '2000',
        DISPATCHBOX_REGISTRATION_STALE_AFTER_MS: '9000',
        DISPATCHBOX_REGISTRATION_FORGET_AFTER_MS: '60000',
        DISPATCHBOX_HANDLER_TIMEOUT: '2m',
        DISPATCHBOX_MAX_ATTEMPTS: '8',
        DISPATCHBOX_CONNECT_TIMEOUT_MS: '2500',
      },
    });
    expect(toWorkerOptions(config)).toMatchObject({
      workerId: 'orders-7f9c-x2',
      claimBatchSize: 50,
      prefetch: 0,
      maxUnwrittenOutcomes: 800,
      maintenance: false,
      registration: { refreshMs: 2000, staleAfterMs: 9000, forgetAfterMs: 60_000 },
    });
    const options = toCreateOptions(config, silent);
    expect(options.handlerDefaults).toEqual({ timeout: 120_000, maxAttempts: 8 });
    expect(options.connectTimeoutMs).toBe(2500);
  });

  it('leaves unset settings to the worker, and reads auto and false', () => {
    const unset = toWorkerOptions(loadConfig({ env: {} }));
    for (const key of [
      'workerId',
      'claimBatchSize',
      'prefetch',
      'maxUnwrittenOutcomes',
      'maintenance',
      'registration',
    ])
      expect(unset, key).not.toHaveProperty(key);
    expect(toCreateOptions(loadConfig({ env: {} }), silent).handlerDefaults).toEqual({});
    const config = loadConfig({
      env: { DISPATCHBOX_PREFETCH: 'AUTO', DISPATCHBOX_REGISTRATION: 'false' },
      flags: { maxAttempts: '2', workerId: 'from-flag' },
    });
    expect(toWorkerOptions(config)).toMatchObject({ registration: false, workerId: 'from-flag' });
    expect(toWorkerOptions(config)).not.toHaveProperty('prefetch');
    expect(config.maxAttempts).toBe(2);
  });

  it.each([
    ['DISPATCHBOX_WORKER_ID', 'my worker', 'DISPATCHBOX_WORKER_ID must be a name of 1 to 253'],
    ['DISPATCHBOX_WORKER_ID', 'x'.repeat(254), 'DISPATCHBOX_WORKER_ID must be'],
    [
      'DISPATCHBOX_CLAIM_BATCH_SIZE',
      '0',
      'DISPATCHBOX_CLAIM_BATCH_SIZE must be a whole number from 1 to 10000; got "0"',
    ],
    [
      'DISPATCHBOX_PREFETCH',
      'lots',
      `DISPATCHBOX_PREFETCH must be 'auto' or a whole number from 0 to 100000; got "lots"`,
    ],
    ['DISPATCHBOX_MAX_UNWRITTEN_OUTCOMES', '-5', 'DISPATCHBOX_MAX_UNWRITTEN_OUTCOMES must be'],
    ['DISPATCHBOX_MAINTENANCE', 'off', 'DISPATCHBOX_MAINTENANCE must be true or false; got "off"'],
    ['DISPATCHBOX_REGISTRATION', 'never', 'DISPATCHBOX_REGISTRATION must be true or false'],
    [
      'DISPATCHBOX_REGISTRATION_REFRESH_MS',
      '5',
      'DISPATCHBOX_REGISTRATION_REFRESH_MS must be a whole number of milliseconds from 10',
    ],
    ['DISPATCHBOX_REGISTRATION_STALE_AFTER_MS', '1s', 'DISPATCHBOX_REGISTRATION_STALE_AFTER_MS'],
    ['DISPATCHBOX_REGISTRATION_FORGET_AFTER_MS', 'x', 'DISPATCHBOX_REGISTRATION_FORGET_AFTER_MS'],
    [
      'DISPATCHBOX_HANDLER_TIMEOUT',
      '5ms',
      `DISPATCHBOX_HANDLER_TIMEOUT must be a duration from 10ms to 24h such as '30s' or '5m'; got "5ms"`,
    ],
    ['DISPATCHBOX_HANDLER_TIMEOUT', 'soon', 'DISPATCHBOX_HANDLER_TIMEOUT must be a duration'],
    [
      'DISPATCHBOX_MAX_ATTEMPTS',
      '0',
      'DISPATCHBOX_MAX_ATTEMPTS must be a whole number from 1 to 1000; got "0"',
    ],
    [
      'DISPATCHBOX_CONNECT_TIMEOUT_MS',
      '10',
      'DISPATCHBOX_CONNECT_TIMEOUT_MS must be a whole number of milliseconds from 100 to 600000',
    ],
    [
      'DISPATCHBOX_LOG_FORMAT',
      'xml',
      'DISPATCHBOX_LOG_FORMAT must be one of auto, json, pretty; got "xml"',
    ],
  ])('refuses %s=%s, naming the variable and what it accepts', (name, value, expected) => {
    expect(configError({ [name]: value })).toContain(expected);
  });

  it('names the flag when a flag is wrong', () => {
    expect(configError({}, { claimBatchSize: 'many' })).toBe(
      '--claim-batch-size must be a whole number from 1 to 10000; got "many"',
    );
    expect(configError({}, { handlerTimeout: '1y2' })).toContain('--handler-timeout must be');
  });

  it('refuses registration ages that do not grow, naming the variables', () => {
    expect(
      configError({
        DISPATCHBOX_REGISTRATION_REFRESH_MS: '5000',
        DISPATCHBOX_REGISTRATION_STALE_AFTER_MS: '4000',
      }),
    ).toBe(
      'DISPATCHBOX_REGISTRATION_STALE_AFTER_MS must be more than DISPATCHBOX_REGISTRATION_REFRESH_MS; got 4000 <= 5000',
    );
    expect(
      configError(
        { DISPATCHBOX_REGISTRATION_FORGET_AFTER_MS: '3000' },
        { registrationStaleAfterMs: '3000' },
      ),
    ).toBe(
      'DISPATCHBOX_REGISTRATION_FORGET_AFTER_MS must be more than --registration-stale-after-ms; got 3000 <= 3000',
    );
  });

  it('the CLI refuses a bad worker flag with exit 2, before opening anything', async () => {
    const err: string[] = [];
    const code = await runCli(['worker', '--handlers', dir, '--prefetch', 'lots'], {
      env: { DISPATCHBOX_DATA_DIR: path.join(dir, 'never') },
      out: () => {},
      err: (t) => err.push(t),
      isTTY: false,
    });
    expect(code).toBe(2);
    expect(err).toEqual([
      `dispatchbox: --prefetch must be 'auto' or a whole number from 0 to 100000; got "lots"`,
    ]);
  });
});

describe('the settings reach the workers and handlers of createDispatchbox', () => {
  it('gives bus.worker() the worker settings and handlers their default timeout and attempts', async () => {
    const bus = await createDispatchbox({
      dataDir: 'memory',
      logger: silent,
      env: {
        DISPATCHBOX_WORKER_ID: 'pod-7',
        DISPATCHBOX_CLAIM_BATCH_SIZE: '3',
        DISPATCHBOX_PREFETCH: '2',
        DISPATCHBOX_MAX_UNWRITTEN_OUTCOMES: '77',
        DISPATCHBOX_MAINTENANCE: 'false',
        DISPATCHBOX_REGISTRATION_REFRESH_MS: '250',
        DISPATCHBOX_HANDLER_TIMEOUT: '100ms',
        DISPATCHBOX_MAX_ATTEMPTS: '1',
        DISPATCHBOX_POLL_INTERVAL_MS: '50',
      },
    });
    bus.handle(
      'settings',
      'hang',
      (_data, ctx) =>
        new Promise((_, reject) => {
          ctx.signal.addEventListener('abort', () => reject(new Error('aborted')));
        }),
    );
    // a handler's own options win over the defaults
    bus.handle('settings', 'own', { timeout: '5s', maxAttempts: 3 }, async () => {});
    expect(bus.registry.get('settings', 'hang')).toMatchObject({
      timeoutMs: 100,
      retryPolicy: { maxAttempts: 1 },
    });
    expect(bus.registry.get('settings', 'own')).toMatchObject({
      timeoutMs: 5000,
      retryPolicy: { maxAttempts: 3 },
    });
    const worker = bus.worker();
    try {
      expect(worker.workerId).toBe('pod-7');
      expect(resolved(worker)).toMatchObject({
        claimBatchSize: 3,
        prefetch: 2,
        maxUnwrittenOutcomes: 77,
        services: { batches: null },
      });
      expect(resolved(worker).services.registration?.service.everyMs).toBe(250);
      // an option given to worker() wins over the variable
      expect(bus.worker({ workerId: 'given' }).workerId).toBe('given');

      const { id } = await bus.send('settings', 'hang', {});
      await worker.start();
      await waitUntil(
        async () => (await bus.get(id)).state === 'troubleshooting',
        15_000,
        'the hanging command timed out into troubleshooting',
      );
      const command = await bus.get(id);
      expect(command.attempts).toBe(1);
      expect(command.lastError?.code).toBe('TIMEOUT');
      expect((await bus.workers()).map((w) => w.id)).toEqual(['pod-7']);
    } finally {
      await worker.stop();
      await bus.close();
    }
  }, 30_000);

  it('DISPATCHBOX_REGISTRATION=false: the worker does not record itself; options in code win', async () => {
    const bus = await createDispatchbox({
      dataDir: 'memory',
      logger: silent,
      // given in code: the timeout wins over its variable; undefined leaves the variable
      handlerDefaults: { timeout: '2s', maxAttempts: undefined },
      workerDefaults: { claimBatchSize: 9, prefetch: undefined },
      env: {
        DISPATCHBOX_REGISTRATION: 'false',
        DISPATCHBOX_HANDLER_TIMEOUT: '100ms',
        DISPATCHBOX_MAX_ATTEMPTS: '2',
        DISPATCHBOX_CLAIM_BATCH_SIZE: '3',
        DISPATCHBOX_PREFETCH: '4',
      },
    });
    bus.handle('settings', 'noop', async () => {});
    expect(bus.registry.get('settings', 'noop')).toMatchObject({
      timeoutMs: 2000,
      retryPolicy: { maxAttempts: 2 },
    });
    const worker = await bus.worker().start();
    try {
      expect(resolved(worker)).toMatchObject({ claimBatchSize: 9, prefetch: 4 });
      expect(resolved(worker).services.registration).toBeNull();
      expect(await bus.workers()).toEqual([]);
    } finally {
      await worker.stop();
      await bus.close();
    }
  }, 30_000);
});

describe('dispatchbox worker with the new flags', () => {
  it('runs as --worker-id, and times a handler out after --handler-timeout with --max-attempts', async () => {
    const dataDir = path.join(dir, 'cli-data');
    const handlers = path.join(dir, 'handlers');
    mkdirSync(handlers, { recursive: true });
    writeFileSync(
      path.join(handlers, 'hang.ts'),
      `export const domain = 'settings';
export const type = 'hang';
export function handle(_data: unknown, ctx: { signal: AbortSignal }) {
  return new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('aborted'))));
}
`,
    );
    const sender = await createDispatchbox({ dataDir, logger: silent, env: {} });
    const { id } = await sender.send('settings', 'hang', {});
    await sender.close();

    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        'worker',
        '--handlers',
        handlers,
        '--worker-id',
        'cli-pod-3',
        '--handler-timeout',
        '150ms',
        '--max-attempts',
        '1',
      ],
      {
        cwd: root,
        env: {
          ...process.env,
          DISPATCHBOX_DATA_DIR: dataDir,
          DISPATCHBOX_LOG_LEVEL: 'debug',
          DISPATCHBOX_POLL_INTERVAL_MS: '50',
          DISPATCHBOX_HEALTH_PORT: '0',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const records: { msg?: string; workerId?: string; applied?: number }[] = [];
    let pending = '';
    child.stderr.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) records.push(JSON.parse(line) as (typeof records)[number]);
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      await waitUntil(
        () => records.some((r) => r.msg === 'settled' && (r.applied ?? 0) > 0),
        20_000,
        'the worker settled the hanging command',
      );
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(records.find((r) => r.msg === 'worker started')?.workerId).toBe('cli-pod-3');

    const reader = await createDispatchbox({ dataDir, logger: silent, env: {} });
    try {
      const command = await reader.get(id);
      expect(command.state).toBe('troubleshooting');
      expect(command.attempts).toBe(1);
      expect(command.lastError?.code).toBe('TIMEOUT');
    } finally {
      await reader.close();
    }
  }, 60_000);
});
