/**
 * Migration 6 moves the count of a batch's cancelled commands onto the batch row: batches
 * that exist when it runs start from the cancelled commands still stored, or from their
 * final counts when some were pruned already.
 */
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createPGliteBackend } from '../src/backends/pglite/index.js';
import { schemaSql } from '../src/backends/sql/migrator.js';
import { CommandBus } from '../src/bus/bus.js';

describe('migration 6: cancelled batch commands counted on the batch', () => {
  it('counts the cancelled commands of the batches that exist before it', async () => {
    const schema = 'before6';
    const backend = await createPGliteBackend({ schema });
    try {
      const db = backend.driver;
      const upTo5 = schemaSql(schema).split('\n-- 006_')[0]!;
      await db.transaction((tx) => tx.exec(upTo5));
      const bus = new CommandBus({ backend, logger: pino({ level: 'silent' }) });
      // Two batches of three commands, written as the code before the migration did.
      const batch = async () => {
        const id = randomUUID();
        await db.query(
          `INSERT INTO "${schema}".batches (id, name, total, on_complete) VALUES ($1, null, 3, null)`,
          [id],
        );
        // by SQL rather than insertCommands, which writes the columns of the latest schema
        for (const n of [0, 1, 2]) {
          await db.query(
            `INSERT INTO "${schema}".commands (id, domain, type, data, batch_id)
             VALUES ($1, 'm', 'T', $2::json, $3)`,
            [randomUUID(), JSON.stringify({ n }), id],
          );
        }
        return { id };
      };
      const open = await batch();
      const finished = await batch();
      const t = `"${schema}"`;
      // The open batch: two cancelled, one pending. The finished one: two cancelled at its
      // finish (its final counts), one of them pruned since; one completed.
      const cancel = (batchId: string, limit: number) =>
        db.query(
          `UPDATE ${t}.commands SET state = 'cancelled' WHERE id IN
             (SELECT id FROM ${t}.commands WHERE batch_id = $1 ORDER BY id LIMIT $2)`,
          [batchId, limit],
        );
      await cancel(open.id, 2);
      await cancel(finished.id, 2);
      await db.query(
        `UPDATE ${t}.commands SET state = 'completed' WHERE batch_id = $1 AND state = 'pending'`,
        [finished.id],
      );
      await db.query(
        `DELETE FROM ${t}.commands WHERE id =
           (SELECT id FROM ${t}.commands WHERE batch_id = $1 AND state = 'cancelled' LIMIT 1)`,
        [finished.id],
      );
      await db.query(
        `UPDATE ${t}.batches SET finished_at = now(), status = 'completed_with_failures',
           final_counts = $2 WHERE id = $1`,
        [
          finished.id,
          JSON.stringify({
            total: 3,
            pending: 0,
            inProgress: 0,
            completed: 1,
            cancelled: 2,
            troubleshooting: 0,
            failed: 0,
          }),
        ],
      );

      await backend.migrate();
      await backend.checkSchema();
      expect((await bus.getBatch(open.id)).counts).toMatchObject({
        total: 3,
        pending: 1,
        cancelled: 2,
        completed: 0,
      });
      expect(await bus.getBatch(finished.id)).toMatchObject({
        status: 'completed_with_failures',
        counts: { total: 3, pending: 0, cancelled: 2, completed: 1 },
      });
    } finally {
      await backend.close();
    }
  });
});
