/**
 * The SQL stores' finish of a batch re-counts under the batch row's lock: between the
 * probe that found the batch ready and the lock, an operator may have retried a member.
 */
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createPGliteBackend } from '../src/backends/pglite/index.js';
import { createPostgresBackend } from '../src/backends/postgres/index.js';
import { BatchStore } from '../src/backends/sql/batches.js';
import type { SqlBackend } from '../src/backends/sql/sql-backend.js';
import { CommandBus } from '../src/bus/bus.js';
import { POSTGRES_URL, requireServer } from './helpers/servers.js';

const postgres = await requireServer('PostgreSQL', 5432);
const stores = [
  { name: 'embedded (PGlite)', available: true, open: () => createPGliteBackend() },
  {
    name: 'PostgreSQL',
    available: postgres,
    open: () =>
      createPostgresBackend({
        connectionString: POSTGRES_URL,
        schema: `t_${randomUUID().replace(/-/g, '').slice(0, 16)}`,
      }),
  },
];

describe.each(stores)('SQL batch finish: $name', ({ available, open }) => {
  it.runIf(available)(
    'does not finish a batch whose member an operator retried after the probe found it ready',
    async () => {
      const backend: SqlBackend = await open();
      try {
        await backend.migrate();
        const bus = new CommandBus({ backend, logger: pino({ level: 'silent' }) });
        const domain = `sb-${randomUUID().slice(0, 8)}`;
        const batch = await bus.createBatch({
          commands: [{ domain, type: 'T', data: {} }],
          onComplete: { domain, type: 'Done', data: {} },
        });
        const leaseToken = randomUUID();
        const [member] = await backend.claim({
          workerId: 'w',
          domain,
          types: null,
          limit: 1,
          leaseMs: 60_000,
          leaseToken,
        });
        await backend.settle({
          workerId: 'w',
          settlements: [
            {
              kind: 'troubleshoot',
              id: member!.id,
              leaseToken,
              domain,
              error: { code: 'NO_ACCOUNT', message: 'no account' },
            },
          ],
        });
        const store = new BatchStore(backend.schema);
        expect(await store.ready(backend.driver, [batch.id])).toEqual([batch.id]);
        await bus.retry(member!.id);
        const sent: string[] = [];
        const finished = await backend.driver.transaction((tx) =>
          store.finish(tx, batch.id, async (_db, command) => {
            sent.push(command.id);
          }),
        );
        expect(finished).toBeNull();
        expect(sent).toEqual([]);
        expect(await bus.getBatch(batch.id)).toMatchObject({
          finishedAt: null,
          status: 'in_progress',
          counts: { pending: 1 },
        });
      } finally {
        await backend.driver.query(`DROP SCHEMA "${backend.schema}" CASCADE`);
        await backend.close();
      }
    },
  );
});
