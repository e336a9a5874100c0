/**
 * Rate limit and concurrency cap options: their types, their validation at registration,
 * and the catalog of named limits that `ctx.rateLimit(key)` reads. No I/O.
 */
import type { Command } from './command.js';
import { toMillis, type Duration } from './duration.js';
import { ConfigurationError } from './errors.js';
import { lazySchema } from './lazy-zod.js';

/** A token bucket: `limit` tokens every `per`, holding at most `burst` (default `limit`). */
export interface RateLimitSpec {
  limit: number;
  /** '1s', '1m', '1h' or milliseconds. */
  per: Duration;
  /** How many tokens the bucket holds when full (the largest burst). Default `limit`. */
  burst?: number | undefined;
}

/** Options of `ctx.rateLimit(key, options)`. */
export interface RateLimitCallOptions extends Partial<RateLimitSpec> {
  /** Wait for the token (default true, honouring ctx.signal); false reports at once. */
  wait?: boolean | undefined;
}

/** The answer to one take from a bucket (`ctx.rateLimit`, and the store's limits role). */
export interface TakeTokenResult {
  granted: boolean;
  /** 0 when granted; otherwise ms until the next token is due (>= 1), by the store's clock. */
  retryAfterMs: number;
}

/** A handler's rate limit: a named bucket (an API) or one per value of a function (a tenant). */
export interface RateLimitOption extends RateLimitSpec {
  key: string | ((command: Command) => string);
}

/** A bucket as the store sees it: `limit` tokens refill evenly over `perMs`, up to `capacity`. */
export interface BucketSpec {
  limit: number;
  perMs: number;
  capacity: number;
}

export interface ResolvedRateLimit extends BucketSpec {
  key: string | ((command: Command) => string);
}

/** Everything a worker checks before starting a command of this handler. */
export interface HandlerLimits {
  rateLimits: ResolvedRateLimit[];
  /** At most `limit` running at once across every worker of the store; key is domain/type. */
  globalConcurrency: { key: string; limit: number } | null;
}

/** Bucket names: 1-200 characters, no whitespace (they appear in logs and store keys). */
const KEY_PATTERN = /^\S{1,200}$/;

const shapes = lazySchema((z) => {
  const wholeAtLeastOne = z.number().int().min(1).max(1_000_000_000);
  const spec = z.object({
    limit: wholeAtLeastOne,
    per: z.union([z.number(), z.string()]),
    burst: wholeAtLeastOne.optional(),
  });
  const key = z.union([
    z.string().regex(KEY_PATTERN),
    z.custom<(command: Command) => string>((v) => typeof v === 'function'),
  ]);
  return { spec, key, wholeAtLeastOne };
});

const HINTS: Record<string, string> = {
  limit: 'a whole number of at least 1, e.g. { limit: 10, per: "1m" }',
  burst: 'a whole number of at least 1 (the most tokens the bucket holds)',
  per: "a positive duration such as '1s', '1m', '1h' or a number of milliseconds",
  key: 'a name of 1-200 characters without spaces, or a function (command) => string',
};

function fail(where: string, field: string, value: unknown): never {
  const shown =
    typeof value === 'function' ? 'a function' : (JSON.stringify(value) ?? String(value));
  throw new ConfigurationError(
    `${where}.${field} must be ${HINTS[field] ?? 'valid'}; got ${shown}`,
  );
}

/** Parses one spec; `where` names it in errors (e.g. `handler billing/Charge: rateLimit[0]`). */
export function parseBucketSpec(value: unknown, where: string): BucketSpec {
  const parsed = shapes().spec.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = String(issue.path[0] ?? 'limit');
    if (issue.path.length === 0) {
      throw new ConfigurationError(
        `${where} must be an object such as { limit: 10, per: '1m' }; got ${JSON.stringify(value)}`,
      );
    }
    fail(where, field, (value as Record<string, unknown>)[field]);
  }
  const { limit, per, burst } = parsed.data;
  let perMs: number;
  try {
    perMs = toMillis(per, `${where}.per`);
  } catch {
    fail(where, 'per', per);
  }
  if (perMs <= 0) fail(where, 'per', per);
  return { limit, perMs, capacity: burst ?? limit };
}

function parseRateLimit(value: unknown, where: string): ResolvedRateLimit {
  const spec = parseBucketSpec(value, where);
  const parsed = shapes().key.safeParse((value as { key?: unknown }).key);
  if (!parsed.success) fail(where, 'key', (value as { key?: unknown }).key);
  return { key: parsed.data, ...spec };
}

/**
 * Validates a handler's `rateLimit` and `globalConcurrency` options. Resolves to null when
 * it has none, so a worker spends nothing on handlers without limits.
 */
export function resolveHandlerLimits(
  options: { rateLimit?: RateLimitOption | RateLimitOption[]; globalConcurrency?: number },
  domain: string,
  type: string,
): HandlerLimits | null {
  const where = `handler ${domain}/${type}`;
  const raw = options.rateLimit;
  const list = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  const rateLimits = list.map((item, i) =>
    parseRateLimit(item, Array.isArray(raw) ? `${where}: rateLimit[${i}]` : `${where}: rateLimit`),
  );
  let globalConcurrency: HandlerLimits['globalConcurrency'] = null;
  if (options.globalConcurrency !== undefined) {
    if (!shapes().wholeAtLeastOne.safeParse(options.globalConcurrency).success) {
      throw new ConfigurationError(
        `${where}: globalConcurrency must be a whole number of at least 1 (the most running at once across all workers); got ${JSON.stringify(options.globalConcurrency)}`,
      );
    }
    globalConcurrency = { key: `${domain}/${type}`, limit: options.globalConcurrency };
  }
  if (rateLimits.length === 0 && !globalConcurrency) return null;
  return { rateLimits, globalConcurrency };
}

function sameSpec(a: BucketSpec, b: BucketSpec): boolean {
  return a.limit === b.limit && a.perMs === b.perMs && a.capacity === b.capacity;
}

/**
 * Named buckets known to a registry: declared by handlers (`rateLimit: { key: 'crm', … }`)
 * or defined for calls made mid-handler (`ctx.rateLimit('crm')`). A name has one spec:
 * two different specs for one bucket would refill it at two rates.
 */
export class RateLimitCatalog {
  private readonly specs = new Map<string, BucketSpec>();

  /** Defines (or re-states) the spec of a named bucket. */
  define(
    key: string,
    spec: RateLimitSpec,
    where = `rate limit ${JSON.stringify(key)}`,
  ): BucketSpec {
    if (typeof key !== 'string' || !KEY_PATTERN.test(key)) fail(where, 'key', key);
    return this.add(key, parseBucketSpec(spec, where), where);
  }

  /** Checks a plan of handler limits against the catalog before anything is recorded. */
  check(limits: HandlerLimits | null, where: string): void {
    for (const r of limits?.rateLimits ?? []) {
      if (typeof r.key !== 'string') continue;
      const known = this.specs.get(r.key);
      if (known && !sameSpec(known, r)) throw this.conflict(r.key, known, r, where);
    }
  }

  /** Records the named buckets of a handler's limits (call `check` first). */
  record(limits: HandlerLimits | null): void {
    for (const r of limits?.rateLimits ?? []) {
      if (typeof r.key === 'string')
        this.specs.set(r.key, { limit: r.limit, perMs: r.perMs, capacity: r.capacity });
    }
  }

  get(key: string): BucketSpec | undefined {
    return this.specs.get(key);
  }

  private add(key: string, spec: BucketSpec, where: string): BucketSpec {
    const known = this.specs.get(key);
    if (known && !sameSpec(known, spec)) throw this.conflict(key, known, spec, where);
    this.specs.set(key, spec);
    return spec;
  }

  private conflict(
    key: string,
    known: BucketSpec,
    spec: BucketSpec,
    where: string,
  ): ConfigurationError {
    const show = (s: BucketSpec) => `${s.limit} per ${s.perMs} ms, burst ${s.capacity}`;
    return new ConfigurationError(
      `${where}: rate limit ${JSON.stringify(key)} is already defined as ${show(known)}; got ${show(spec)}. One bucket has one spec: use the same numbers, or another key`,
    );
  }
}
