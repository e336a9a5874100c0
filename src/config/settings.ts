import { z } from 'zod';
import {
  booleanText,
  duration,
  LOG_FORMATS,
  LOG_LEVELS,
  setting,
  text,
  wholeNumber,
  type LogFormat,
  type LogLevel,
} from './setting.js';
import { WORKER_SETTINGS } from './worker-settings.js';

export {
  booleanText,
  decimal,
  LOG_FORMATS,
  LOG_LEVELS,
  wholeNumber,
  type LogFormat,
  type LogLevel,
  type Setting,
  type SettingValues,
} from './setting.js';

/**
 * Every setting of the store, the worker and the process's operations (the demo's are in
 * demo.ts). docs/configuration.md is generated from these (`npm run docs:configuration`).
 */
export const SETTINGS = {
  databaseUrl: setting<string | undefined>({
    env: 'DISPATCHBOX_DATABASE_URL',
    flag: 'database-url',
    scope: 'store',
    accepted:
      'unset (embedded database), postgres://user:password@host:5432/database or redis://host:6379',
    // Checked by checkDatabaseUrl, which can say precisely what is wrong with a URL.
    schema: text(z.string()),
    defaultText: 'unset',
    fallback: undefined,
    description:
      'The store: unset = the embedded database in `DISPATCHBOX_DATA_DIR`; `postgres://user:password@host:5432/db` = PostgreSQL; `redis://host:6379/0` = Redis. A `/`, `@`, `:` or `#` in the user name or password must be percent-encoded.',
    secret: true,
  }),
  dataDir: setting<string>({
    env: 'DISPATCHBOX_DATA_DIR',
    flag: 'data-dir',
    scope: 'store',
    accepted: "a directory path, or 'memory' for a database that lives only as long as the process",
    schema: text(z.string().trim().min(1)),
    defaultText: './.dispatchbox',
    fallback: './.dispatchbox',
    description:
      'Where the embedded database keeps its files (a directory this process can write); `memory` for none. One process opens it at a time.',
  }),
  schema: setting<string>({
    env: 'DISPATCHBOX_SCHEMA',
    flag: 'schema',
    scope: 'store',
    accepted:
      'lower-case letters, digits and underscores, starting with a letter or underscore (at most 63)',
    schema: text(z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/)),
    defaultText: 'dispatchbox',
    fallback: 'dispatchbox',
    description: 'The SQL schema that holds the tables (the key prefix on Redis).',
  }),
  migrate: setting<boolean | undefined>({
    env: 'DISPATCHBOX_MIGRATE',
    flag: null,
    scope: 'store',
    accepted: 'true or false',
    schema: booleanText,
    defaultText: 'true for the embedded database, false otherwise',
    fallback: undefined,
    description:
      'Apply pending migrations at start. On PostgreSQL, run `dispatchbox migrate` once per release instead.',
  }),
  storeTimeoutMs: setting<number | undefined>({
    env: 'DISPATCHBOX_STORE_TIMEOUT_MS',
    flag: null,
    scope: 'store',
    accepted: 'a whole number of milliseconds from 100 to 600000',
    schema: wholeNumber(100, 600_000),
    defaultText: 'a third of the lease, at most `10000`',
    // unset: derived from the workers' lease (storeTimeoutForLease)
    fallback: undefined,
    description:
      "How long a PostgreSQL statement or Redis command of Dispatchbox (or a new connection) may go unanswered before its connection is taken for dead and replaced: a worker cut off from its store in silence finds out within its lease. Keep it at a third of `DISPATCHBOX_LEASE_MS` or less. A `ctx.tx` handler's own statements have no such limit.",
  }),
  poolSize: setting<number>({
    env: 'DISPATCHBOX_POOL_SIZE',
    flag: null,
    scope: 'store',
    accepted: 'a whole number from 1 to 1000',
    schema: wholeNumber(1, 1000),
    defaultText: '10',
    fallback: 10,
    description: 'Most PostgreSQL connections this process opens.',
  }),
  connectTimeoutMs: setting<number | undefined>({
    env: 'DISPATCHBOX_CONNECT_TIMEOUT_MS',
    flag: null,
    scope: 'store',
    accepted: 'a whole number of milliseconds from 100 to 600000',
    schema: wholeNumber(100, 600_000),
    defaultText: '10000',
    fallback: undefined,
    description:
      'How long to keep trying to reach a PostgreSQL or Redis server at start before giving up with a clear error (a refused login stops at once).',
  }),
  strict: setting<boolean>({
    env: 'DISPATCHBOX_STRICT',
    flag: null,
    scope: 'store',
    accepted: 'true or false',
    schema: booleanText,
    defaultText: 'false',
    fallback: false,
    description: 'Refuse to send a command whose handler is not registered in this process.',
  }),
  maxPayloadBytes: setting<number>({
    env: 'DISPATCHBOX_MAX_PAYLOAD_BYTES',
    flag: null,
    scope: 'store',
    accepted: 'a whole number of bytes from 1 to 104857600 (100 MiB)',
    schema: wholeNumber(1, 100 * 1024 * 1024),
    defaultText: '1048576 (1 MiB)',
    fallback: 1024 * 1024,
    description: 'Largest payload accepted by send, in bytes of JSON.',
  }),
  tracing: setting<boolean>({
    env: 'DISPATCHBOX_TRACING',
    flag: null,
    scope: 'store',
    accepted: 'true or false',
    schema: booleanText,
    defaultText: 'true',
    fallback: true,
    description:
      'OpenTelemetry spans for sends and attempts, when the application installs an SDK (docs/tracing.md).',
  }),
  ...WORKER_SETTINGS,
  logLevel: setting<LogLevel | undefined>({
    env: 'DISPATCHBOX_LOG_LEVEL',
    option: '`createDispatchbox({ logger })`',
    flag: 'log-level',
    scope: 'operations',
    accepted: `one of ${LOG_LEVELS.join(', ')}`,
    schema: z.string().trim().toLowerCase().pipe(z.enum(LOG_LEVELS)),
    defaultText:
      '`info` for the CLI and the container (`error` for the demo); `warn` for `createDispatchbox()` in an application',
    fallback: undefined,
    description: 'Least severe log level written. Logs go to stderr, never stdout.',
  }),
  logFormat: setting<LogFormat>({
    env: 'DISPATCHBOX_LOG_FORMAT',
    option: '`createDispatchbox({ logger })`',
    flag: 'log-format',
    scope: 'operations',
    accepted: `one of ${LOG_FORMATS.join(', ')}`,
    schema: z.string().trim().toLowerCase().pipe(z.enum(LOG_FORMATS)),
    defaultText: 'auto',
    fallback: 'auto',
    description:
      'JSON lines (`json`), or lines for people (`pretty`: time, level, message, fields); `auto` is pretty when stderr is a terminal, JSON otherwise.',
  }),
  healthPort: setting<number>({
    env: 'DISPATCHBOX_HEALTH_PORT',
    flag: 'health-port',
    scope: 'operations',
    accepted: 'a whole number from 0 to 65535 (0 turns the endpoints off)',
    schema: wholeNumber(0, 65_535),
    defaultText: '8080',
    fallback: 8080,
    description:
      '`dispatchbox worker` and `dispatchbox start` serve /health, /ready and /metrics on this port.',
  }),
  statsIntervalMs: setting<number>({
    env: 'DISPATCHBOX_STATS_INTERVAL',
    flag: 'stats-interval',
    scope: 'operations',
    accepted: "a duration such as '60s' or '5m', or 0 for no stats line",
    schema: duration(1000, 86_400_000, true),
    defaultText: '60s',
    fallback: 60_000,
    description:
      'How often a worker logs one line of throughput, success rate, processing time and queue depth.',
  }),
} as const;

export type SettingKey = keyof typeof SETTINGS;
