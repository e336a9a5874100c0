import { randomUUID } from 'node:crypto';
import { describe } from 'vitest';
import { createPostgresBackend } from '../src/backends/postgres/index.js';
import type { SqlBackend } from '../src/backends/sql/sql-backend.js';
import { runStoreConformance } from '../src/testing/conformance/index.js';
import { PrivatePostgres } from './helpers/postgres-server.js';
import { POSTGRES_URL, requireServer } from './helpers/servers.js';

const available = await requireServer('PostgreSQL', 5432);
let current: SqlBackend | undefined;

describe.runIf(available)('PostgreSQL', () => {
  runStoreConformance({
    name: 'PostgreSQL',
    open: async () => {
      const backend = await createPostgresBackend({
        connectionString: POSTGRES_URL,
        schema: `t_${randomUUID().replace(/-/g, '').slice(0, 16)}`,
      });
      await backend.migrate();
      current ??= backend; // the suite's store is the first made; a test may make more
      return backend;
    },
    cleanup: async (backend) => {
      await (backend as SqlBackend).driver.query(
        `DROP SCHEMA "${(backend as SqlBackend).schema}" CASCADE`,
      );
    },
    sql: () => current!.driver,
    transaction: (fn) => current!.driver.transaction(fn),
    // A private server, stopped as a crash would stop it.
    outage: async () => {
      const server = await PrivatePostgres.create();
      const backend = await createPostgresBackend({ connectionString: server.url });
      await backend.migrate();
      return { backend, takeDown: () => server.stop('immediate'), cleanup: () => server.destroy() };
    },
  });
});
