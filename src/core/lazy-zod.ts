import { createRequire } from 'node:module';
import type * as Zod from 'zod';
import { ValidationError } from './errors.js';

type ZodModule = typeof Zod;

let loaded: ZodModule | undefined;

/**
 * A schema built with zod on first use, not at import. Importing zod costs a process more
 * than its own 3 MB of heap: the old generation starts larger, and V8 lets it grow further
 * before collecting it. The bench's Redis worker peaked at 101-106 MB RSS in a
 * 100,000-command drain with zod imported at start, and at 95-96 MB without it.
 * Most sends and handlers carry no options, so a worker that never validates one never
 * loads zod. The load is synchronous (require), as validation is; zod ships CommonJS.
 */
export function lazySchema<T>(build: (z: ZodModule) => T): () => T {
  let schema: T | undefined;
  return () => {
    loaded ??= createRequire(import.meta.url)('zod') as ZodModule;
    return (schema ??= build(loaded));
  };
}

/**
 * `schema.safeParse(value)`'s data, or a ValidationError of its first issue named by its
 * path (`root` for the value itself): the one way option objects are refused.
 */
export function parseOrRefuse<T>(
  schema: { safeParse(value: unknown): Zod.ZodSafeParseResult<T> },
  value: unknown,
  root = 'options',
): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const path = issue.path.map(String).join('.') || root;
  throw new ValidationError(`${path}: ${issue.message}`, path);
}
