/**
 * Three workers share one global cap of 5 running at once for 5 s. On PostgreSQL they are
 * three processes; PGlite is one process by nature, so there they are three Worker
 * instances in this process over one backend. The bounds are explained in
 * fixtures/limit-scenarios.ts.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { createPGliteBackend } from '../src/backends/pglite/index.js';
import type { SqlBackend } from '../src/backends/sql/sql-backend.js';
import { dropSchema, uniqueSchema } from './helpers/postgres.js';
import { POSTGRES_URL, requireServer } from './helpers/servers.js';
import { checkSharedConcurrencyCap } from './fixtures/limit-scenarios.js';

describe('shared concurrency cap: PGlite, three workers in one process', () => {
  let backend: SqlBackend;
  beforeAll(async () => {
    backend = await createPGliteBackend({});
    await backend.migrate();
  });
  afterAll(() => backend.close());

  it('never runs more than 5 at once across workers, and keeps the 5 slots busy', async () => {
    const outcome = await checkSharedConcurrencyCap({ backend });
    console.info('PGlite concurrency cap', outcome);
  });
});

const postgres = await requireServer('PostgreSQL', 5432);

describe.runIf(postgres)('shared concurrency cap: PostgreSQL, three worker processes', () => {
  const schema = uniqueSchema('cap');
  afterAll(() => dropSchema(POSTGRES_URL, schema));

  it('never runs more than 5 at once across workers, and keeps the 5 slots busy', async () => {
    const outcome = await checkSharedConcurrencyCap({ databaseUrl: POSTGRES_URL, schema });
    console.info('PostgreSQL concurrency cap', outcome);
  });
});
