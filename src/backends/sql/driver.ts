import { ConfigurationError } from '../../core/errors.js';
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
