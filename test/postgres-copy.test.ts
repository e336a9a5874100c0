/**
 * Bulk sends and batches on PostgreSQL go in by COPY (through pg-copy-streams), as on the
 * embedded store: enough fresh commands, due at once, take COPY; anything else takes the
 * INSERT. The conformance suite checks what such a send stores (awkward text included);
 * this file checks which path a send takes (COPY, the JSON array, or one command's own
 * INSERT) and that a COPY and the statements after it commit or roll back together.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createPostgresBackend } from '../src/backends/postgres/index.js';
import { COPY_AT_LEAST, COPY_COLUMNS, copyText } from '../src/backends/sql/copy.js';
import type { SqlTransaction } from '../src/backends/sql/driver.js';
import type { SqlBackend } from '../src/backends/sql/sql-backend.js';
import type { NewCommand } from '../src/core/command.js';
import { newCommands } from './helpers/commands.js';
import { POSTGRES_URL, requireServer } from './helpers/servers.js';

const available = await requireServer('PostgreSQL', 5432);

const fresh = (n: number, overrides: Partial<NewCommand> = {}) =>
  newCommands(n, { domain: 'copy', ...overrides });

describe.runIf(available)('PostgreSQL bulk sends by COPY', () => {
  const schema = `t_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  let backend: SqlBackend;

  beforeAll(async () => {
    backend = await createPostgresBackend({ connectionString: POSTGRES_URL, schema });
    await backend.migrate();
  });

  afterAll(async () => {
    await backend?.driver.query(`DROP SCHEMA "${schema}" CASCADE`);
    await backend?.close();
  });

  async function count(ids: string[]): Promise<number> {
    const { rows } = await backend.driver.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM "${schema}".commands WHERE id = ANY($1::uuid[])`,
      [ids],
    );
    return rows[0]!.n;
  }

  /** Counts the COPYs run in the driver's transactions while `fn` runs. */
  async function countCopies(fn: () => Promise<unknown>): Promise<number> {
    let copies = 0;
    const transaction = backend.driver.transaction.bind(backend.driver);
    const spy = vi.spyOn(backend.driver, 'transaction').mockImplementation((body) =>
      transaction((tx: SqlTransaction) =>
        body({
          ...tx,
          copy: (target, input) => {
            copies++;
            return tx.copy(target, input);
          },
        }),
      ),
    );
    try {
      await fn();
    } finally {
      spy.mockRestore();
    }
    return copies;
  }

  it('takes COPY for enough fresh commands due at once, and the INSERT otherwise', async () => {
    const many = fresh(COPY_AT_LEAST);
    expect(await countCopies(() => backend.insertCommands({ commands: many }))).toBe(1);
    expect(await count(many.map((c) => c.id))).toBe(COPY_AT_LEAST);

    const few = fresh(COPY_AT_LEAST - 1);
    const delayed = fresh(COPY_AT_LEAST, { delayMs: 60_000 });
    const keyed = fresh(COPY_AT_LEAST).map((c, i) => ({ ...c, idempotencyKey: `k-${i}` }));
    const copies = await countCopies(async () => {
      for (const commands of [few, delayed, keyed]) await backend.insertCommands({ commands });
    });
    expect(copies).toBe(0);
    expect(await count([...few, ...delayed, ...keyed].map((c) => c.id))).toBe(
      3 * COPY_AT_LEAST - 1,
    );
  });

  it('takes the one-command INSERT for a single fresh command, and the JSON array otherwise', async () => {
    const texts: string[] = [];
    const query = backend.driver.query.bind(backend.driver);
    const spy = vi.spyOn(backend.driver, 'query').mockImplementation((text, params) => {
      texts.push(text);
      return query(text, params);
    });
    const one = fresh(1, { delayMs: 60_000 });
    const two = fresh(2);
    const keyed = fresh(1, { idempotencyKey: 'one-keyed' });
    try {
      for (const commands of [one, two, keyed]) await backend.insertCommands({ commands });
    } finally {
      spy.mockRestore();
    }
    expect(await count([...one, ...two, ...keyed].map((c) => c.id))).toBe(4);
    const decodesArray = texts.map((t) => t.includes('json_to_recordset'));
    expect(decodesArray).toEqual([false, true, true]);
  });

  it("takes COPY for a batch's chunks of fresh commands due at once, and the INSERT otherwise", async () => {
    const batch = (id: string, chunks: NewCommand[][]) =>
      backend.createBatch({
        batch: { id, name: null, onComplete: null },
        chunks: chunks.map((chunk) => chunk.map((c) => ({ ...c, batchId: id }))),
      });
    const copied = [fresh(COPY_AT_LEAST), fresh(COPY_AT_LEAST + 1)];
    const copiedId = randomUUID();
    expect(await countCopies(() => batch(copiedId, copied))).toBe(2);
    expect((await backend.getBatch(copiedId))?.counts.pending).toBe(2 * COPY_AT_LEAST + 1);

    const inserted = [fresh(COPY_AT_LEAST - 1), fresh(COPY_AT_LEAST, { delayMs: 60_000 })];
    const insertedId = randomUUID();
    expect(await countCopies(() => batch(insertedId, inserted))).toBe(0);
    expect((await backend.getBatch(insertedId))?.counts.total).toBe(2 * COPY_AT_LEAST - 1);
  });

  it('rolls a COPY back when a statement after it fails', async () => {
    const commands = fresh(3);
    const text = copyText(commands);
    const copyThen = (statement: string) =>
      backend.driver.transaction(async (tx) => {
        await tx.copy(`"${schema}".commands ${COPY_COLUMNS}`, text);
        await tx.query(statement);
      });
    await expect(copyThen('SELECT 1 / 0')).rejects.toThrow(/division by zero/);
    expect(await count(commands.map((c) => c.id))).toBe(0);
    // the connection went back to the pool usable: a COPY on it works afterwards
    await copyThen('SELECT 1');
    expect(await count(commands.map((c) => c.id))).toBe(3);
  });
});
