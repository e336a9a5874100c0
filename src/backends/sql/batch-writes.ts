import type { BatchInfo, CreateBatchParams } from '../backend.js';
import type { BatchStore } from './batches.js';
import { allFresh, copyable, copyText } from './copy.js';
import { CopyTally } from './counts.js';
import type { SqlDriver } from './driver.js';
import { commandsJson } from './insert-rows.js';
import type { CommandQueries } from './queries.js';

/** What the batch writes use of their backend: its connection, statements and batch rows. */
export interface BatchWriteContext {
  driver: SqlDriver;
  q: CommandQueries;
  batches: BatchStore;
}

/**
 * A batch and all its commands in one transaction, a chunk at a time: by COPY when the
 * chunk allows it (copy.ts: copyable), else by INSERT.
 */
export async function createBatch(
  { driver, q, batches }: BatchWriteContext,
  params: CreateBatchParams,
): Promise<BatchInfo> {
  await driver.transaction(async (tx) => {
    const domains = new Set<string>();
    const copied = new CopyTally();
    await batches.create(tx, params, async (commands) => {
      for (const c of commands) domains.add(c.domain);
      if (copyable(commands)) {
        await tx.copy(q.copyTarget, copyText(commands));
        copied.add(commands);
        return commands.length;
      }
      const inserted = await tx.query<{ n: number }>(
        allFresh(commands) ? q.insertQuietFresh : q.insertQuiet,
        [commandsJson(commands)],
      );
      return Number(inserted.rows[0]?.n ?? 0);
    });
    // One wake-up per domain, delivered at commit, instead of one per chunk; and the
    // count of the chunks that went by COPY.
    await tx.query(q.afterBatch, [[...domains], ...copied.params()]);
  });
  return (await batches.get(driver, params.batch.id))!;
}

/**
 * Finishes the batches whose commands are all finished (all those ready, or those of
 * `batchIds`), each in its own transaction with its completion command.
 */
export async function finishBatches(
  { driver, q, batches }: BatchWriteContext,
  batchIds: string[] | undefined,
): Promise<BatchInfo[]> {
  const ready = await batches.ready(driver, batchIds);
  const finished: BatchInfo[] = [];
  for (const id of ready) {
    const info = await driver.transaction((tx) =>
      batches.finish(tx, id, async (db, command) => {
        await db.query(q.insert, [commandsJson([command])]);
      }),
    );
    if (info) finished.push(info);
  }
  return finished;
}
