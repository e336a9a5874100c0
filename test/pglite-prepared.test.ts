/** The embedded store's prepared statements (src/backends/pglite/prepared.ts) on a real PGlite. */
import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PGliteDriver } from '../src/backends/pglite/driver.js';

describe('PGlite prepared statements', () => {
  let db: PGlite;

  beforeAll(async () => {
    db = await PGlite.create();
    await db.exec('CREATE TABLE t (id int PRIMARY KEY, tags text[], doc json, at timestamptz)');
  });

  afterAll(async () => {
    await db.close();
  });

  it('binds and parses values of every kind the store uses', async () => {
    const driver = new PGliteDriver(db, false);
    const at = new Date('2026-01-02T03:04:05.678Z');
    await driver.query('INSERT INTO t VALUES ($1, $2, $3, $4)', [1, ['a', 'b"c'], '{"x":1}', at]);
    const { rows } = await driver.query<{ id: number; tags: string[]; doc: unknown; at: Date }>(
      'SELECT * FROM t WHERE id = ANY($1::int[])',
      [[1, 2]],
    );
    expect(rows).toEqual([{ id: 1, tags: ['a', 'b"c'], doc: { x: 1 }, at }]);
  });

  it('reports a failed statement and runs it again afterwards', async () => {
    const driver = new PGliteDriver(db, false);
    const insert = 'INSERT INTO t (id) VALUES ($1) RETURNING id';
    await driver.query(insert, [10]);
    await expect(driver.query(insert, [10])).rejects.toThrow(/duplicate key/);
    expect((await driver.query(insert, [11])).rows).toEqual([{ id: 11 }]);
    // and a transaction still works on the same connection
    const n = await driver.transaction(async (tx) => {
      await tx.query('INSERT INTO t (id) VALUES ($1)', [12]);
      return (await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM t')).rows[0]!.n;
    });
    expect(n).toBe(4);
  });

  it('keeps the statements of two drivers on one PGlite apart', async () => {
    const a = new PGliteDriver(db, false);
    const b = new PGliteDriver(db, false);
    const sql = 'SELECT $1::int + 1 AS v';
    expect((await a.query(sql, [1])).rows).toEqual([{ v: 2 }]);
    expect((await b.query(sql, [2])).rows).toEqual([{ v: 3 }]);
    expect((await b.query('SELECT $1::text AS v', ['x'])).rows).toEqual([{ v: 'x' }]);
  });
});
