import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import pino from 'pino';
import type { Queryable } from '../../src/core/queryable.js';
import { createPGliteBackend } from '../../src/backends/pglite/index.js';
import { createPostgresBackend } from '../../src/backends/postgres/index.js';
import type { SqlBackend } from '../../src/backends/sql/sql-backend.js';
import { CommandBus } from '../../src/bus/bus.js';
import { POSTGRES_URL, requireServer } from './servers.js';

/** A SQL store opened beside an application that runs its own transactions on it. */
export interface AppStore {
  backend: SqlBackend;
  bus: CommandBus;
  /**
   * True on PGlite, one connection: while the application's transaction is open, every
   * other query waits for it (so a test must not read from outside it meanwhile).
   */
  oneConnection: boolean;
  /** Runs `fn` in one of the application's transactions, committed or rolled back. */
  inTransaction(fn: (tx: Queryable) => Promise<void>, end: 'commit' | 'rollback'): Promise<void>;
  close(): Promise<void>;
}

export interface AppStoreKind {
  name: string;
  available: boolean;
  /** A store in a schema of its own; the PGlite database under it is made once per kind. */
  open: () => Promise<AppStore>;
  /** Closes what the kind's stores shared (call after all of them are closed). */
  shutdown: () => Promise<void>;
}

const quiet = () => pino({ level: 'silent' });
const schemaName = () => `t_outbox_${randomUUID().replace(/-/g, '').slice(0, 12)}`;

/**
 * The embedded store on a PGlite of the application's own, in a temporary directory, and
 * PostgreSQL beside the application's own connection; each store in a schema of its own.
 */
export async function sqlAppStores(): Promise<AppStoreKind[]> {
  // making a PGlite data directory takes seconds: one per file, a schema per test
  let embedded: Promise<{ db: PGlite; dir: string }> | undefined;
  const embeddedDb = () =>
    (embedded ??= (async () => {
      const dir = mkdtempSync(join(tmpdir(), 'dispatchbox-app-'));
      return { db: await PGlite.create({ dataDir: dir }), dir };
    })());
  return [
    {
      name: 'embedded (PGlite)',
      available: true,
      open: async () => {
        const { db } = await embeddedDb();
        const schema = schemaName();
        const backend = await createPGliteBackend({ db, schema });
        await backend.migrate();
        return {
          backend,
          bus: new CommandBus({ backend, logger: quiet() }),
          oneConnection: true,
          inTransaction: async (fn, end) => {
            await db.transaction(async (tx) => {
              await fn(tx);
              if (end === 'rollback') await tx.rollback();
            });
          },
          close: async () => {
            await db.query(`DROP SCHEMA "${schema}" CASCADE`);
            await backend.close(); // the application's PGlite stays open
          },
        };
      },
      shutdown: async () => {
        if (!embedded) return;
        const { db, dir } = await embedded;
        await db.close();
        rmSync(dir, { recursive: true, force: true });
      },
    },
    {
      name: 'PostgreSQL',
      available: await requireServer('PostgreSQL', 5432),
      open: async () => {
        const schema = schemaName();
        const backend = await createPostgresBackend({ connectionString: POSTGRES_URL, schema });
        await backend.migrate();
        const app = new pg.Client({ connectionString: POSTGRES_URL });
        await app.connect();
        return {
          backend,
          bus: new CommandBus({ backend, logger: quiet() }),
          oneConnection: false,
          inTransaction: async (fn, end) => {
            await app.query('BEGIN');
            try {
              await fn(app);
            } catch (error) {
              await app.query('ROLLBACK');
              throw error;
            }
            await app.query(end === 'commit' ? 'COMMIT' : 'ROLLBACK');
          },
          close: async () => {
            await app.end();
            await backend.driver.query(`DROP SCHEMA "${schema}" CASCADE`);
            await backend.close();
          },
        };
      },
      shutdown: async () => {},
    },
  ];
}
