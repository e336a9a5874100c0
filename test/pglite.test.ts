import { createPGliteBackend } from '../src/backends/pglite/index.js';
import type { PGliteDriver } from '../src/backends/pglite/driver.js';
import type { SqlBackend } from '../src/backends/sql/sql-backend.js';
import { runStoreConformance } from '../src/testing/conformance/index.js';

let current: SqlBackend | undefined;

runStoreConformance({
  name: 'embedded (PGlite)',
  open: async () => {
    const backend = await createPGliteBackend();
    await backend.migrate();
    await backend.checkSchema();
    current ??= backend; // the suite's store is the first made; a test may make more
    return backend;
  },
  sql: () => current!.driver,
  transaction: (fn) => current!.driver.transaction(fn),
  // The embedded database is down when its PGlite instance is closed under the backend.
  outage: async () => {
    const backend = await createPGliteBackend();
    await backend.migrate();
    return {
      backend,
      takeDown: () => (backend.driver as PGliteDriver).db.close(),
      cleanup: async () => {},
    };
  },
});
