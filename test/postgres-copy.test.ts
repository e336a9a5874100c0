/**
 * Bulk sends on PostgreSQL go in by COPY (through pg-copy-streams), as on the embedded
 * store: enough fresh commands, due at once, take COPY; anything else takes the INSERT.
 * The conformance suite checks what such a send stores (awkward text included); this file
 * checks which path a send takes and that the COPY and the statement after it commit or
 * roll back together.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createPostgresBackend } from '../src/backends/postgres/index.js';
import { COPY_AT_LEAST, COPY_COLUMNS } from '../src/backends/sql/copy.js';
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

  it('takes COPY for enough fresh commands due at once, and the INSERT otherwise', async () => {
    const copyIn = vi.spyOn(backend.driver, 'copyIn');
    try {
      const many = fresh(COPY_AT_LEAST);
      await backend.insertCommands({ commands: many });
      expect(copyIn).toHaveBeenCalledTimes(1);
      expect(await count(many.map((c) => c.id))).toBe(COPY_AT_LEAST);

      const few = fresh(COPY_AT_LEAST - 1);
      const delayed = fresh(COPY_AT_LEAST, { delayMs: 60_000 });
      const keyed = fresh(COPY_AT_LEAST).map((c, i) => ({ ...c, idempotencyKey: `k-${i}` }));
      for (const commands of [few, delayed, keyed]) await backend.insertCommands({ commands });
      expect(copyIn).toHaveBeenCalledTimes(1);
      expect(await count([...few, ...delayed, ...keyed].map((c) => c.id))).toBe(
        3 * COPY_AT_LEAST - 1,
      );
    } finally {
      copyIn.mockRestore();
    }
  });

  it('rolls the COPY back when the statement after it fails', async () => {
    const commands = fresh(3);
    const text = commands
      .map((c) => `${c.id}\tcopy\tT\t${c.dataJson}\t0\t3\t\\N\t\\N\t\\N\n`)
      .join('');
    await expect(
      backend.driver.copyIn(`"${schema}".commands ${COPY_COLUMNS}`, text, 'SELECT 1 / 0', []),
    ).rejects.toThrow(/division by zero/);
    expect(await count(commands.map((c) => c.id))).toBe(0);
    // the connection went back to the pool usable: a COPY on it works afterwards
    await backend.driver.copyIn(`"${schema}".commands ${COPY_COLUMNS}`, text, 'SELECT 1', []);
    expect(await count(commands.map((c) => c.id))).toBe(3);
  });
});
