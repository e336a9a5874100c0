import type { Logger } from 'pino';
import { checkDatabaseUrl } from './config/database-url.js';
import { createLogger, LIBRARY_LOG_LEVEL } from './config/logger.js';
import { ConfigurationError } from './core/errors.js';
import { redactSecrets } from './core/redact.js';
import type { Backend } from './backends/backend.js';
import { CommandBus, type CommandBusOptions } from './bus/bus.js';

export interface CreateDispatchboxOptions extends Omit<CommandBusOptions, 'backend'> {
  /**
   * Picks the store: unset for the embedded database (PGlite) in `dataDir`,
   * `postgres://…` for PostgreSQL, `redis://…` or `rediss://…` for Redis.
   */
  databaseUrl?: string | undefined;
  /** The embedded database's directory. Default `./.dispatchbox`; 'memory' for none. */
  dataDir?: string | undefined;
  /** The PostgreSQL schema, or the Redis key prefix. */
  schema?: string | undefined;
  /** Apply pending migrations at start. Default true for the embedded store, false otherwise. */
  migrate?: boolean | undefined;
  /**
   * Where Dispatchbox logs. Default: stderr at level `warn` (DISPATCHBOX_LOG_LEVEL,
   * DISPATCHBOX_LOG_FORMAT), so an application hears of warnings and errors only.
   */
  logger?: Logger | undefined;
  poolSize?: number | undefined;
  /** How long to keep trying to reach a server store at start. Default 10 s. */
  connectTimeoutMs?: number | undefined;
  /**
   * How long a call to a server store (a statement, a Redis command, a new connection)
   * may go unanswered before its connection is taken for dead and replaced. Default 10 s,
   * a third of the default lease; keep it at a third of the workers' `leaseMs` or less.
   */
  storeTimeoutMs?: number | undefined;
  /**
   * Where the DISPATCHBOX_* variables are read, for every option not given here (an
   * option given here wins). Default `process.env`; `{}` ignores the environment.
   */
  env?: Record<string, string | undefined> | undefined;
}

/**
 * The store timeout that suits workers with lease `leaseMs`: a third of the lease (so a
 * worker cut off from its store finds out, and gets new connections once the network is
 * back, within its lease), at most the backends' default of 10 s.
 */
export function storeTimeoutForLease(leaseMs: number): number {
  return Math.min(10_000, Math.max(1, Math.floor(leaseMs / 3)));
}

/**
 * Opens the store named by `databaseUrl` and returns a bus on it. Backends are loaded on
 * demand, so an application that uses PostgreSQL loads no PGlite and vice versa.
 */
export async function createDispatchbox(
  options: CreateDispatchboxOptions = {},
): Promise<CommandBus> {
  const resolved = await withEnvironment(options);
  const backend = await openBackend(resolved);
  const migrateAtStart = resolved.migrate ?? backend.kind === 'pglite';
  try {
    if (migrateAtStart) await backend.migrate();
    await backend.checkSchema();
    return new CommandBus({ ...resolved, backend });
  } catch (error) {
    await backend.close();
    throw error;
  }
}

/** The workers' default lease, from which the default store timeout follows. */
const DEFAULT_LEASE_MS = 30_000;

/**
 * The options with every one not given taken from the DISPATCHBOX_* variables, validated
 * as the CLI validates them (one ConfigurationError naming each bad variable).
 *
 * The settings are checked by zod, which is loaded only when a DISPATCHBOX_* variable is
 * set: a process configured in code alone never imports it (see core/lazy-zod.ts for what
 * that saves a worker).
 */
export async function withEnvironment(
  options: CreateDispatchboxOptions,
): Promise<CreateDispatchboxOptions> {
  const env = options.env ?? process.env;
  if (options.databaseUrl !== undefined)
    checkDatabaseUrl(options.databaseUrl, 'the databaseUrl option');
  const leaseMs = options.workerDefaults?.leaseMs;
  if (!setsAnyVariable(env)) {
    return {
      ...options,
      // A library is quiet unless asked: warnings and errors only, on stderr.
      logger: options.logger ?? createLogger(LIBRARY_LOG_LEVEL),
      storeTimeoutMs: options.storeTimeoutMs ?? storeTimeoutForLease(leaseMs ?? DEFAULT_LEASE_MS),
      env: {},
    };
  }
  const { SETTINGS, loadConfig, toHandlerDefaults, toWorkerOptions } =
    await import('./config/index.js');
  const config = loadConfig({ env });
  const pick = <T>(given: T | undefined, fromEnv: T): T => (given === undefined ? fromEnv : given);
  // The settings whose variable (or secret file) is set: the worker has its own defaults
  // for the rest, some of which depend on the store.
  const fromEnv = Object.fromEntries(
    Object.entries(config).filter(([key]) => {
      const variable = SETTINGS[key as keyof typeof SETTINGS].env;
      return isSet(env[variable]) || isSet(env[`${variable}_FILE`]);
    }),
  );
  return {
    ...options,
    databaseUrl: pick(options.databaseUrl, config.databaseUrl),
    dataDir: pick(options.dataDir, config.dataDir),
    schema: pick(options.schema, config.schema),
    migrate: pick(options.migrate, config.migrate),
    poolSize: pick(options.poolSize, config.poolSize),
    connectTimeoutMs: pick(options.connectTimeoutMs, config.connectTimeoutMs),
    strict: pick(options.strict, config.strict),
    maxPayloadBytes: pick(options.maxPayloadBytes, config.maxPayloadBytes),
    tracing: pick(options.tracing, config.tracing),
    logger: options.logger ?? createLogger(config.logLevel ?? LIBRARY_LOG_LEVEL, config.logFormat),
    // a third of the workers' lease, so that they find a silent store out within it
    storeTimeoutMs: pick(
      options.storeTimeoutMs,
      config.storeTimeoutMs ?? storeTimeoutForLease(leaseMs ?? config.leaseMs),
    ),
    // an option given as undefined means "not given": its variable still applies
    handlerDefaults: { ...toHandlerDefaults(config), ...given(options.handlerDefaults) },
    workerDefaults: { ...toWorkerOptions(fromEnv), ...given(options.workerDefaults) },
    env: {},
  };
}

/** The options that are not undefined. */
function given<T extends object>(options: T | undefined): Partial<T> {
  if (options === undefined) return {};
  return Object.fromEntries(
    Object.entries(options).filter(([, value]) => value !== undefined),
  ) as Partial<T>;
}

/** An empty variable counts as unset, as it does for the CLI. */
const isSet = (value: string | undefined) => (value ?? '').trim() !== '';

function setsAnyVariable(env: Record<string, string | undefined>): boolean {
  for (const [name, value] of Object.entries(env))
    if (name.startsWith('DISPATCHBOX_') && isSet(value)) return true;
  return false;
}

/** Opens the store the options name; the options are taken as they are (no environment). */
export async function openBackend(options: CreateDispatchboxOptions): Promise<Backend> {
  const url = options.databaseUrl;
  const { storeTimeoutMs } = options;
  if (storeTimeoutMs !== undefined && !(Number.isFinite(storeTimeoutMs) && storeTimeoutMs > 0)) {
    throw new ConfigurationError(
      `storeTimeoutMs must be a positive number of milliseconds (about a third of the workers' leaseMs); got ${String(storeTimeoutMs)}`,
    );
  }
  if (!url) {
    const { createPGliteBackend } = await import('./backends/pglite/index.js');
    const dataDir = options.dataDir ?? './.dispatchbox';
    return createPGliteBackend({
      dataDir: dataDir === 'memory' ? undefined : dataDir,
      schema: options.schema,
    });
  }
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'postgres' || scheme === 'postgresql') {
    const { createPostgresBackend } = await importStore(
      () => import('./backends/postgres/index.js'),
      'pg',
      'postgres://…',
    );
    return createPostgresBackend({
      connectionString: url,
      schema: options.schema,
      poolSize: options.poolSize,
      connectTimeoutMs: options.connectTimeoutMs,
      storeTimeoutMs: options.storeTimeoutMs,
      onError: (error, where) =>
        options.logger?.warn(
          { err: redactedError(error) },
          `PostgreSQL ${where} failed; reconnecting`,
        ),
    });
  }
  if (scheme === 'redis' || scheme === 'rediss') {
    const { createRedisBackend } = await importStore(
      () => import('./backends/redis/index.js'),
      'ioredis',
      'redis://…',
    );
    return createRedisBackend({
      url,
      prefix: options.schema,
      connectTimeoutMs: options.connectTimeoutMs,
      storeTimeoutMs: options.storeTimeoutMs,
      onError: (error) =>
        options.logger?.warn(
          { err: redactedError(error) },
          'Redis connection failed; reconnecting',
        ),
    });
  }
  throw new ConfigurationError(
    `the database URL must be unset (embedded database) or start with postgres:// or redis://; got ${JSON.stringify(redactSecrets(scheme ?? url))}`,
  );
}

/**
 * Loads a store's module, whose driver is an optional peer dependency the application
 * installs only for the store it uses: without it, say which package to install.
 */
async function importStore<T>(load: () => Promise<T>, pkg: string, url: string): Promise<T> {
  try {
    return await load();
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    const missing =
      (e.code === 'ERR_MODULE_NOT_FOUND' || e.code === 'MODULE_NOT_FOUND') &&
      new RegExp(`['"]${pkg}['"/]`).test(e.message);
    if (!missing) throw error;
    throw new ConfigurationError(
      `install \`${pkg}\` to use ${url} (npm install ${pkg}); it is an optional dependency of Dispatchbox, needed only for this store`,
      { cause: error },
    );
  }
}

/** A driver's error for the log: its message and code, without any credential in them. */
function redactedError(error: Error): { type: string; message: string; code?: unknown } {
  const code = (error as { code?: unknown }).code;
  return {
    type: error.name,
    message: redactSecrets(error.message),
    ...(code === undefined ? {} : { code }),
  };
}
