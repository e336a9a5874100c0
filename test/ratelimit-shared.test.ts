/**
 * Three workers share one bucket of 20/s, burst 5, (and, in concurrency-cap-shared.test.ts, one global
 * cap) for 5 s. On PostgreSQL they are three processes; PGlite is one process by nature,
 * so there they are three Worker instances in this process over one backend. The bounds
 * and their tolerance are explained in fixtures/limit-scenarios.ts.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { createPGliteBackend } from '../src/backends/pglite/index.js';
import type { SqlBackend } from '../src/backends/sql/sql-backend.js';
import { dropSchema, uniqueSchema } from './helpers/postgres.js';
import { POSTGRES_URL, requireServer } from './helpers/servers.js';
import { checkSharedRateLimit } from './fixtures/limit-scenarios.js';

describe('shared rate limit: PGlite, three workers in one process', () => {
  let backend: SqlBackend;
  beforeAll(async () => {
    backend = await createPGliteBackend({});
    await backend.migrate();
  });
  afterAll(() => backend.close());

  it('starts at most burst + rate × window handlers in every 1 s and 5 s window, through stalls, and uses the rate', async () => {
    const outcome = await checkSharedRateLimit({ backend });
    console.info('PGlite rate limit', outcome);
  });
});

const postgres = await requireServer('PostgreSQL', 5432);

describe.runIf(postgres)('shared rate limit: PostgreSQL, three worker processes', () => {
  const schema = uniqueSchema('ratelimit');
  afterAll(() => dropSchema(POSTGRES_URL, schema));

  it('starts at most burst + rate × window handlers in every 1 s and 5 s window, through stalls, and uses the rate', async () => {
    const outcome = await checkSharedRateLimit({ databaseUrl: POSTGRES_URL, schema });
    console.info('PostgreSQL rate limit', outcome);
  });
});
