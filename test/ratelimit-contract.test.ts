/** The limits contract (fixtures/limit-contract.ts) on PGlite and PostgreSQL. */
import { describe } from 'vitest';
import { createPGliteBackend } from '../src/backends/pglite/index.js';
import { createPostgresBackend } from '../src/backends/postgres/index.js';
import type { SqlBackend } from '../src/backends/sql/sql-backend.js';
import { uniqueSchema } from './helpers/postgres.js';
import { POSTGRES_URL, requireServer } from './helpers/servers.js';
import { limitContractTests } from './fixtures/limit-contract.js';

limitContractTests({
  name: 'PGlite',
  createBackend: async () => {
    const backend = await createPGliteBackend({});
    await backend.migrate();
    return backend;
  },
});

const postgres = await requireServer('PostgreSQL', 5432);

describe.runIf(postgres)('PostgreSQL', () => {
  limitContractTests({
    name: 'PostgreSQL',
    createBackend: async () => {
      const backend = await createPostgresBackend({
        connectionString: POSTGRES_URL,
        schema: uniqueSchema('limits'),
      });
      await backend.migrate();
      return backend;
    },
    destroyBackend: async (backend) => {
      const sql = backend as SqlBackend;
      await sql.driver.query(`DROP SCHEMA "${sql.schema}" CASCADE`);
    },
  });
});
