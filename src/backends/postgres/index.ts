import type pg from 'pg';
import { ConfigurationError, StoreError } from '../../core/errors.js';
import { redactSecrets } from '../../core/redact.js';
import { checkSchemaName } from '../sql/driver.js';
import { SqlBackend } from '../sql/sql-backend.js';
import { PostgresDriver, type PostgresDriverOptions } from './driver.js';

export { schemaSql } from '../sql/migrator.js';

export interface PostgresBackendOptions extends PostgresDriverOptions {
  schema?: string | undefined;
  /** How long to keep trying to reach the server at start before giving up. */
  connectTimeoutMs?: number | undefined;
}

/** The PostgreSQL store (15+), through node-postgres. */
export async function createPostgresBackend(options: PostgresBackendOptions): Promise<SqlBackend> {
  const schema = checkSchemaName(options.schema ?? 'dispatchbox');
  if (options.connectionString) parsePostgresUrl(options.connectionString);
  const driver = new PostgresDriver(options);
  await waitForServer(driver, options.connectTimeoutMs ?? 10_000);
  return new SqlBackend(driver, schema);
}

/** Throws a ConfigurationError naming what is wrong with a postgres:// URL. */
export function parsePostgresUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigurationError(
      `DISPATCHBOX_DATABASE_URL is not a valid URL; expected postgres://user:password@host:5432/database`,
    );
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new ConfigurationError(
      `DISPATCHBOX_DATABASE_URL scheme ${parsed.protocol} is not PostgreSQL; expected postgres://user:password@host:5432/database`,
    );
  }
  if (!parsed.hostname && !parsed.searchParams.get('host')) {
    throw new ConfigurationError(
      `DISPATCHBOX_DATABASE_URL has no host; expected postgres://user@host:5432/database`,
    );
  }
  return parsed;
}

async function waitForServer(driver: PostgresDriver, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delay = 100;
  for (let attempt = 1; ; attempt++) {
    try {
      await driver.query('SELECT 1');
      return;
    } catch (error) {
      const cause = causeOf(error);
      const refused = isRefusal(cause);
      if (refused || Date.now() >= deadline) {
        await driver.close().catch(() => {});
        const where = describeTarget(driver.pool.options);
        const reason = redactSecrets(cause.message);
        if (refused) {
          throw new ConfigurationError(
            `PostgreSQL at ${where} refused the connection: ${reason} (${String(cause.code)}). Check the user, password and database in DISPATCHBOX_DATABASE_URL.`,
            { cause },
          );
        }
        throw new StoreError(
          `could not reach PostgreSQL at ${where} after ${attempt} attempts over ${timeoutMs} ms: ${reason}. Check DISPATCHBOX_DATABASE_URL and that the server is running.`,
          { cause },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(delay, deadline - Date.now())));
      delay = Math.min(delay * 2, 2000);
    }
  }
}

/**
 * The server's answers that no retry changes: a wrong password (28P01), an unknown role or
 * a connection pg_hba.conf rejects (28000), an unknown database (3D000), no right to
 * connect (42501). A refused or reset connection, a server starting up (57P03) or
 * shutting down (57P01) may pass, and is retried.
 */
const REFUSALS = new Set(['28P01', '28000', '3D000', '42501']);

function isRefusal(error: Error & { code?: unknown }): boolean {
  return typeof error.code === 'string' && REFUSALS.has(error.code);
}

/** The driver's own error, where a StoreError wraps it. */
function causeOf(error: unknown): Error & { code?: unknown } {
  const e = error instanceof StoreError && error.cause instanceof Error ? error.cause : error;
  return e instanceof Error ? e : new Error(String(e));
}

function describeTarget(o: pg.PoolOptions): string {
  if (o.connectionString) {
    const u = new URL(o.connectionString);
    return `${u.hostname}:${u.port || 5432}${u.pathname}`;
  }
  return `${o.host ?? 'localhost'}:${o.port ?? 5432}/${o.database ?? ''}`;
}

export { SqlBackend, PostgresDriver };
