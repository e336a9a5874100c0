/**
 * The SQL stores' finish of a batch counts under the batch row's lock: between the probe
 * that found the batch ready and the lock an operator may have retried a member, and a
 * cancel (counted on the batch row) may be committing at the same moment.
 */
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createPGliteBackend } from '../src/backends/pglite/index.js';
import { createPostgresBackend } from '../src/backends/postgres/index.js';
import { BatchStore } from '../src/backends/sql/batches.js';
import { operate } from '../src/backends/sql/operator.js';
import type { SqlBackend } from '../src/backends/sql/sql-backend.js';
import { CommandBus } from '../src/bus/bus.js';
import { waitUntil } from './fixtures/wait-until.js';
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
              attempt: member!.attempts,
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
          store.finish(tx, batch.id, (_db, command) => {
            sent.push(command.id);
            return Promise.resolve();
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

describe.runIf(postgres)('SQL batch finish: PostgreSQL, with a cancel committing', () => {
  it('counts a member cancelled while the finish waits for the batch row', async () => {
    const schema = `t_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
    const backend = await createPostgresBackend({ connectionString: POSTGRES_URL, schema });
    try {
      await backend.migrate();
      const bus = new CommandBus({ backend, logger: pino({ level: 'silent' }) });
      const domain = `sb-${randomUUID().slice(0, 8)}`;
      const batch = await bus.createBatch({
        commands: [0, 1].map((n) => ({ domain, type: 'T', data: { n } })),
      });
      const leaseToken = randomUUID();
      const [done, failing] = await backend.claim({
        workerId: 'w',
        domain,
        types: null,
        limit: 2,
        leaseMs: 60_000,
        leaseToken,
      });
      await backend.settle({
        workerId: 'w',
        settlements: [
          {
            kind: 'complete',
            id: done!.id,
            leaseToken,
            attempt: done!.attempts,
            domain,
            resultJson: null,
          },
          {
            kind: 'troubleshoot',
            id: failing!.id,
            leaseToken,
            attempt: failing!.attempts,
            domain,
            error: { code: 'NO_ACCOUNT', message: 'no account' },
          },
        ],
      });
      // The operator's cancel holds the batch row; a finish starts and waits for it.
      let finishing: Promise<unknown> | undefined;
      await backend.driver.transaction(async (tx) => {
        await operate(tx, schema, 'unused', {
          id: failing!.id,
          action: 'cancel',
          actor: 'test',
          reason: null,
        });
        finishing = backend.finishBatches({ batchIds: [batch.id] });
        await waitUntil(
          async () => {
            const waiting = await backend.driver.query<{ n: number }>(
              `SELECT count(*)::int AS n FROM pg_stat_activity
               WHERE wait_event_type = 'Lock' AND query LIKE $1`,
              [`%"${schema}".batches%FOR UPDATE%`],
            );
            return waiting.rows[0]!.n > 0;
          },
          10_000,
          'the finish waits for the batch row',
        );
      });
      await finishing;
      const info = await bus.getBatch(batch.id);
      expect(info.counts).toMatchObject({ completed: 1, cancelled: 1, troubleshooting: 0 });
      expect(info.status).toBe('completed_with_failures');
      const final = await backend.driver.query<{ final_counts: { cancelled: number } }>(
        `SELECT final_counts FROM "${schema}".batches WHERE id = $1`,
        [batch.id],
      );
      expect(final.rows[0]!.final_counts).toMatchObject({ completed: 1, cancelled: 1 });
    } finally {
      await backend.driver.query(`DROP SCHEMA "${schema}" CASCADE`);
      await backend.close();
    }
  });
});
