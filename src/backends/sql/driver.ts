import { ConfigurationError, DispatchboxError, StoreError } from '../../core/errors.js';
import type { PoolStats } from '../backend.js';
import { redactSecrets } from '../../core/redact.js';
import type { Queryable } from '../backend.js';

/**
 * What the shared SQL backend needs from a PostgreSQL-speaking engine. The postgres/
 * folder implements it with node-postgres, the pglite/ folder with PGlite; the SQL is
 * the same for both.
 */
export interface SqlDriver extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  /** `signal`: the transaction is no longer wanted; a networked driver drops its connection. */
  transaction<T>(fn: (tx: SqlTransaction) => Promise<T>, signal?: AbortSignal): Promise<T>;
  /** Calls `onPayload` for each NOTIFY on `channel`; resolves to an unsubscribe function. */
  listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
  /** The connection pool's connections, for a driver that has a pool. */
  poolStats?(): PoolStats;
}

export interface SqlTransaction extends Queryable {
  /** Runs several statements of SQL text without parameters (migrations). */
  exec(sql: string): Promise<void>;
  /**
   * Runs `COPY <target> FROM` with `input` as its data (text format): PGlite takes the
   * input whole (/dev/blob), node-postgres as a stream.
   */
  copy(target: string, input: string): Promise<void>;
}

/** Schema names go into SQL text, so only plain identifiers are accepted. */
export const SCHEMA_NAME_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;

export function checkSchemaName(schema: string): string {
  if (!SCHEMA_NAME_PATTERN.test(schema)) {
    throw new ConfigurationError(
      `schema name ${JSON.stringify(schema)} is not allowed: use lower-case letters, digits and underscores, starting with a letter or underscore (DISPATCHBOX_SCHEMA)`,
    );
  }
  return schema;
}

/**
 * A failure of the engine as callers see it: a StoreError whose cause is the driver's own
 * error (a refused connection, 57P01 at a server shutdown, a closed PGlite), its code in
 * the message. Dispatchbox's own errors pass through.
 */
export function storeError(error: unknown, engine: string): Error {
  if (error instanceof DispatchboxError) return error;
  const { message, code } = describe(error);
  const suffix =
    typeof code === 'string' && code !== '' && !message.includes(code) ? ` (${code})` : '';
  return new StoreError(`${engine} failed: ${redactSecrets(message)}${suffix}`, { cause: error });
}

function describe(error: unknown): { message: string; code: unknown } {
  if (error instanceof Error)
    return { message: error.message, code: (error as { code?: unknown }).code };
  if (typeof error === 'object' && error !== null) {
    const o = error as { message?: unknown; code?: unknown };
    return {
      message: typeof o.message === 'string' ? o.message : JSON.stringify(error),
      code: o.code,
    };
  }
  return { message: String(error), code: undefined };
}
