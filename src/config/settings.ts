import ms from 'ms';
import { z } from 'zod';

/**
 * One configuration setting: where it comes from (a DISPATCHBOX_* variable and, for most,
 * a CLI flag), what it accepts (said in words, for the error message and the README
 * table) and the zod schema that turns the raw text into a value.
 */
export interface Setting<T> {
  env: string;
  /** The CLI flag, long form without dashes; null when there is only the variable. */
  flag: string | null;
  /** Where the setting applies: opening the store, or running a worker. */
  scope: 'store' | 'worker' | 'operations' | 'demo';
  /** Completes "X must be …". */
  accepted: string;
  schema: z.ZodType<T, string>;
  /** The default as documented; the value itself comes from `fallback`. */
  defaultText: string;
  fallback: T;
  description: string;
}

const text = (s: z.ZodType<string, string>) => s;

/** A whole number from `min` to `max`, written in decimal digits. */
export function wholeNumber(min: number, max: number): z.ZodType<number, string> {
  return z
    .string()
    .trim()
    .regex(/^\d+$/)
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
}

/** A number (fractions allowed) from `min` to `max`. */
export function decimal(min: number, max: number): z.ZodType<number, string> {
  return z
    .string()
    .trim()
    .regex(/^\d+(\.\d+)?$/)
    .transform(Number)
    .pipe(z.number().min(min).max(max));
}

export const booleanText: z.ZodType<boolean, string> = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.enum(['true', 'false', '1', '0', 'yes', 'no']))
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** A duration such as '7d' or '12h' (ms's syntax), at least a minute, in milliseconds. */
const retention: z.ZodType<number, string> = z
  .string()
  .trim()
  .transform((v) => ms(v as ms.StringValue) as number | undefined)
  .pipe(z.number().min(60_000));

/** A duration such as '60s' (ms's syntax) of at least a second, or 0 for off; in milliseconds. */
const statsInterval: z.ZodType<number, string> = z
  .string()
  .trim()
  .transform((v) => (v === '0' ? 0 : (ms(v as ms.StringValue) as number | undefined)))
  .pipe(z.number().refine((n) => n === 0 || (n >= 1000 && n <= 86_400_000)));

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

/** A comma-separated list of domain or type names; empty items are ignored. */
const nameList: z.ZodType<string[] | undefined, string> = z
  .string()
  .transform((v) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0),
  )
  .pipe(z.array(z.string().regex(NAME)).min(1));

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

function setting<T>(s: Setting<T>): Setting<T> {
  return s;
}

/** Every setting of the store and the worker. The README's configuration table mirrors this. */
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
      'Picks the store: unset = the embedded database in DISPATCHBOX_DATA_DIR; postgres://… = PostgreSQL.',
  }),
  dataDir: setting<string>({
    env: 'DISPATCHBOX_DATA_DIR',
    flag: 'data-dir',
    scope: 'store',
    accepted: "a directory path, or 'memory' for a database that lives only as long as the process",
    schema: text(z.string().trim().min(1)),
    defaultText: './.dispatchbox',
    fallback: './.dispatchbox',
    description: 'Where the embedded database keeps its files.',
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
    description: 'The SQL schema that holds the tables.',
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
      'Apply pending migrations at start. On PostgreSQL run `dispatchbox migrate` once instead.',
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
      'How long a PostgreSQL statement or Redis command of Dispatchbox (or a new connection) may go unanswered before its connection is taken for dead and replaced; keep it at a third of the lease or less.',
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
  logLevel: setting<LogLevel>({
    env: 'DISPATCHBOX_LOG_LEVEL',
    flag: 'log-level',
    scope: 'store',
    accepted: `one of ${LOG_LEVELS.join(', ')}`,
    schema: z.string().trim().toLowerCase().pipe(z.enum(LOG_LEVELS)),
    defaultText: 'info (error for the demo)',
    fallback: 'info',
    description: 'Least severe log level written (JSON lines on stderr).',
  }),
  concurrency: setting<number>({
    env: 'DISPATCHBOX_CONCURRENCY',
    flag: 'concurrency',
    scope: 'worker',
    accepted: 'a whole number from 1 to 10000',
    schema: wholeNumber(1, 10_000),
    defaultText: '10',
    fallback: 10,
    description: 'Handlers running at once in one worker.',
  }),
  leaseMs: setting<number>({
    env: 'DISPATCHBOX_LEASE_MS',
    flag: 'lease-ms',
    scope: 'worker',
    accepted: 'a whole number of milliseconds from 1000 to 86400000',
    schema: wholeNumber(1000, 86_400_000),
    defaultText: '30000',
    fallback: 30_000,
    description: 'How long a claim holds a command without renewal; renewed every third of it.',
  }),
  pollIntervalMs: setting<number>({
    env: 'DISPATCHBOX_POLL_INTERVAL_MS',
    flag: 'poll-interval-ms',
    scope: 'worker',
    accepted: 'a whole number of milliseconds from 10 to 3600000',
    schema: wholeNumber(10, 3_600_000),
    defaultText: '1000',
    fallback: 1000,
    description: 'How often an idle worker looks for work when no wake-up arrives.',
  }),
  shutdownTimeoutMs: setting<number>({
    env: 'DISPATCHBOX_SHUTDOWN_TIMEOUT_MS',
    flag: 'shutdown-timeout-ms',
    scope: 'worker',
    accepted: 'a whole number of milliseconds from 0 to 3600000',
    schema: wholeNumber(0, 3_600_000),
    defaultText: '10000',
    fallback: 10_000,
    description: 'How long a graceful stop waits for running handlers before handing them back.',
  }),
  retentionMs: setting<number>({
    env: 'DISPATCHBOX_RETENTION',
    flag: 'retention',
    scope: 'worker',
    accepted: "a duration of at least one minute such as '7d', '12h' or '90m'",
    schema: retention,
    defaultText: '7d',
    fallback: 7 * 24 * 3600_000,
    description: 'Completed and cancelled commands (and their audit) are pruned after this long.',
  }),
  domains: setting<string[] | undefined>({
    env: 'DISPATCHBOX_DOMAINS',
    flag: 'domains',
    scope: 'worker',
    accepted: 'a comma-separated list of domain names (letters, digits, _ . : -)',
    schema: nameList,
    defaultText: 'every domain with a handler',
    fallback: undefined,
    description: 'The worker claims only from these domains.',
  }),
  types: setting<string[] | undefined>({
    env: 'DISPATCHBOX_TYPES',
    flag: 'types',
    scope: 'worker',
    accepted: 'a comma-separated list of command types (letters, digits, _ . : -)',
    schema: nameList,
    defaultText: 'every type with a handler',
    fallback: undefined,
    description: 'The worker runs only these command types.',
  }),
  handlersDir: setting<string | undefined>({
    env: 'DISPATCHBOX_HANDLERS_DIR',
    flag: 'handlers',
    scope: 'worker',
    accepted: 'a directory of handler modules',
    schema: text(z.string().trim().min(1)),
    defaultText: 'unset',
    fallback: undefined,
    description:
      '`dispatchbox worker` registers every handler module found here (one file per command type).',
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
    schema: statsInterval,
    defaultText: '60s',
    fallback: 60_000,
    description:
      'How often a worker logs one line of throughput, success rate, processing time and queue depth.',
  }),
} as const;

export type SettingKey = keyof typeof SETTINGS;
export type SettingValues<S extends Record<string, Setting<unknown>>> = {
  [K in keyof S]: S[K] extends Setting<infer T> ? T : never;
};
