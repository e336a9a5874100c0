import type { Logger } from 'pino';
import { ConfigurationError } from './core/errors.js';
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
  logger?: Logger | undefined;
  poolSize?: number | undefined;
  /** How long to keep trying to reach a server store at start. Default 10 s. */
  connectTimeoutMs?: number | undefined;
}

/**
 * Opens the store named by `databaseUrl` and returns a bus on it. Backends are loaded on
 * demand, so an application that uses PostgreSQL loads no PGlite and vice versa.
 */
export async function createDispatchbox(
  options: CreateDispatchboxOptions = {},
): Promise<CommandBus> {
  const backend = await openBackend(options);
  const migrateAtStart = options.migrate ?? backend.kind === 'pglite';
  try {
    if (migrateAtStart) await backend.migrate();
    await backend.checkSchema();
    return new CommandBus({ ...options, backend });
  } catch (error) {
    await backend.close();
    throw error;
  }
}

export async function openBackend(options: CreateDispatchboxOptions): Promise<Backend> {
  const url = options.databaseUrl;
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
    const { createPostgresBackend } = await import('./backends/postgres/index.js');
    return createPostgresBackend({
      connectionString: url,
      schema: options.schema,
      poolSize: options.poolSize,
      connectTimeoutMs: options.connectTimeoutMs,
      onError: (error, where) =>
        options.logger?.warn({ err: error }, `PostgreSQL ${where} failed; reconnecting`),
    });
  }
  if (scheme === 'redis' || scheme === 'rediss') {
    const { createRedisBackend } = await import('./backends/redis/index.js');
    return createRedisBackend({
      url,
      prefix: options.schema,
      connectTimeoutMs: options.connectTimeoutMs,
      onError: (error) =>
        options.logger?.warn({ err: error }, 'Redis connection failed; reconnecting'),
    });
  }
  throw new ConfigurationError(
    `DISPATCHBOX_DATABASE_URL must be unset (embedded database) or start with postgres:// or redis://; got a URL with scheme ${JSON.stringify(scheme ?? url)}`,
  );
}
