import type { z } from 'zod';
import { toMillis, type Duration } from './duration.js';
import { ConfigurationError, ValidationError } from './errors.js';
import {
  RateLimitCatalog,
  resolveHandlerLimits,
  type HandlerLimits,
  type RateLimitOption,
} from './rate-limit-spec.js';
import {
  DEFAULT_RETRY_POLICY,
  validateRetryPolicy,
  type Backoff,
  type RetryPolicy,
} from './retry.js';

export interface HandlerOptions<TSchema extends z.ZodType = z.ZodType> {
  /** Validates the payload at send (nothing is stored when it fails) and again at run. */
  schema?: TSchema | undefined;
  /** The handler is aborted and the attempt fails (transiently) after this long. Default 30 s. */
  timeout?: Duration | undefined;
  /** Attempts before the command goes to troubleshooting; default from the retry policy. */
  maxAttempts?: number | undefined;
  /** How long to wait between attempts. */
  backoff?: Backoff | undefined;
  /** At most this many of this handler at once in one worker. */
  concurrency?: number | undefined;
  /**
   * Run in the store transaction that completes the command (`ctx.tx`): the handler's own
   * writes and the completion commit together. Holds a connection for the whole run, so
   * it is opt-in. PostgreSQL and PGlite only.
   */
  transactional?: boolean | undefined;
  /**
   * Token bucket(s) a command takes from before it starts, shared by every worker of the
   * store: `{ key: 'partner-api' | (command) => tenant, limit: 10, per: '1m', burst? }`.
   * A command whose bucket is empty goes back to wait, spending no attempt.
   */
  rateLimit?: RateLimitOption | RateLimitOption[] | undefined;
  /** At most this many of this handler running at once across all workers of the store. */
  globalConcurrency?: number | undefined;
}

/** A registered handler with its options resolved. `fn` receives (data, context). */
export interface RegisteredHandler<TContext = unknown> {
  domain: string;
  type: string;
  fn: (data: unknown, ctx: TContext) => unknown;
  schema: z.ZodType | null;
  timeoutMs: number;
  retryPolicy: RetryPolicy;
  concurrency: number;
  transactional: boolean;
  /** Rate limits and the global cap, checked in the store before a start; null when none. */
  limits: HandlerLimits | null;
}

export const DEFAULT_HANDLER_TIMEOUT_MS = 30_000;
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

/** Domain and type names: letters, digits and `_ . : -`, up to 128 characters. */
export function checkName(value: unknown, what: 'domain' | 'type'): string {
  if (typeof value !== 'string' || !NAME_PATTERN.test(value)) {
    throw new ValidationError(
      `${what} must be 1-128 characters of letters, digits, '_', '.', ':' or '-', starting with a letter or digit; got ${JSON.stringify(value)}`,
      what,
    );
  }
  return value;
}

/** What a handler registered without its own `timeout` or `maxAttempts` gets. */
export interface HandlerDefaults {
  /** Default 30 s. */
  timeout?: Duration | undefined;
  /** Default 5 (the default retry policy's). */
  maxAttempts?: number | undefined;
}

/** The handlers known to a bus, keyed by domain and type. No I/O. */
export class HandlerRegistry<TContext = unknown> {
  private readonly handlers = new Map<string, RegisteredHandler<TContext>>();
  /** The same handlers by domain, then type: the worker's lookup per command builds no key string. */
  private readonly byDomain = new Map<string, Map<string, RegisteredHandler<TContext>>>();
  /** Named rate limits: declared by handlers or defined for `ctx.rateLimit(key)`. */
  readonly rateLimits = new RateLimitCatalog();
  private readonly defaultTimeoutMs: number;
  private readonly defaultMaxAttempts: number;

  constructor(defaults: HandlerDefaults = {}) {
    try {
      this.defaultTimeoutMs =
        defaults.timeout === undefined
          ? DEFAULT_HANDLER_TIMEOUT_MS
          : toMillis(defaults.timeout, 'handlerDefaults.timeout');
      this.defaultMaxAttempts = defaults.maxAttempts ?? DEFAULT_RETRY_POLICY.maxAttempts;
      validateRetryPolicy(
        { ...DEFAULT_RETRY_POLICY, maxAttempts: this.defaultMaxAttempts },
        'handlerDefaults',
      );
    } catch (error) {
      throw new ConfigurationError((error as Error).message);
    }
  }

  register(
    domain: string,
    type: string,
    options: HandlerOptions,
    fn: RegisteredHandler<TContext>['fn'],
  ): void {
    checkName(domain, 'domain');
    checkName(type, 'type');
    const key = `${domain}/${type}`;
    if (this.handlers.has(key)) {
      throw new ConfigurationError(
        `a handler for ${key} is registered already; each command type has one handler`,
      );
    }
    if (typeof fn !== 'function')
      throw new ConfigurationError(`the handler for ${key} is not a function`);
    const where = `handler ${key}`;
    const retryPolicy: RetryPolicy = {
      maxAttempts: options.maxAttempts ?? this.defaultMaxAttempts,
      backoff: options.backoff ?? DEFAULT_RETRY_POLICY.backoff,
    };
    try {
      validateRetryPolicy(retryPolicy, where);
    } catch (error) {
      throw new ConfigurationError((error as Error).message);
    }
    const concurrency = options.concurrency ?? Number.POSITIVE_INFINITY;
    if (!(concurrency >= 1)) {
      throw new ConfigurationError(
        `${where}: concurrency must be at least 1; got ${String(options.concurrency)}`,
      );
    }
    let timeoutMs: number;
    try {
      timeoutMs =
        options.timeout === undefined
          ? this.defaultTimeoutMs
          : toMillis(options.timeout, `${where}.timeout`);
    } catch (error) {
      throw new ConfigurationError((error as Error).message);
    }
    const limits = resolveHandlerLimits(options, domain, type);
    this.rateLimits.check(limits, where);
    this.rateLimits.record(limits);
    const registered: RegisteredHandler<TContext> = {
      domain,
      type,
      fn,
      schema: options.schema ?? null,
      timeoutMs,
      retryPolicy,
      concurrency,
      transactional: options.transactional ?? false,
      limits,
    };
    this.handlers.set(key, registered);
    let types = this.byDomain.get(domain);
    if (!types) this.byDomain.set(domain, (types = new Map<string, RegisteredHandler<TContext>>()));
    types.set(type, registered);
  }

  get(domain: string, type: string): RegisteredHandler<TContext> | undefined {
    return this.byDomain.get(domain)?.get(type);
  }

  domains(): string[] {
    return [...new Set([...this.handlers.values()].map((h) => h.domain))];
  }

  all(): RegisteredHandler<TContext>[] {
    return [...this.handlers.values()];
  }
}

/** Validates a payload against a handler's schema; the error names the failing field. */
export function parseWithSchema(schema: z.ZodType, data: unknown): unknown {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const path = ['data', ...issue.path.map(String)].join('.');
  throw new ValidationError(`${path}: ${issue.message}`, path);
}
