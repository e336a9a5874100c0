/**
 * The plans of the hot statements on PostgreSQL, as a long-running store sees them: the
 * table analysed while every command was pending (so statistics say nothing is in
 * progress), and prepared statements on their generic plan. A settle or renew that
 * scanned the partial lease index instead of looking each command up by id stepped over
 * every dead entry in that index once per flush, and a drain fell by a factor of ten.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresBackend } from '../src/backends/postgres/index.js';
import { BatchStore } from '../src/backends/sql/batches.js';
import { oldestPendingSql } from '../src/backends/sql/oldest-pending.js';
import { CommandQueries } from '../src/backends/sql/queries.js';
import type { SqlBackend } from '../src/backends/sql/sql-backend.js';
import { newCommands } from './helpers/commands.js';
import { POSTGRES_URL, requireServer } from './helpers/servers.js';

const available = await requireServer('PostgreSQL', 5432);

describe.runIf(available)('PostgreSQL plans', () => {
  const schema = `t_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  let backend: SqlBackend;
  let client: pg.Client;
  const q = new CommandQueries(schema, `dispatchbox_${schema}`);
  const batches = new BatchStore(schema);
  const batchId = randomUUID();

  beforeAll(async () => {
    backend = await createPostgresBackend({ connectionString: POSTGRES_URL, schema });
    await backend.migrate();
    // one open batch of them all, as statistics taken after a batch is queued see it
    const commands = newCommands(5000, { domain: 'plans', batchId });
    await backend.insertCommands({ commands });
    client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    await client.query(`ANALYZE "${schema}".commands`);
    await client.query('SET plan_cache_mode = force_generic_plan');
  });

  afterAll(async () => {
    await client?.end();
    await backend?.driver.query(`DROP SCHEMA "${schema}" CASCADE`);
    await backend?.close();
  });

  async function genericPlan(name: string, sql: string, types: string[], args: string[]) {
    // a statement of no parameters takes no parentheses
    const list = (items: string[]) => (items.length > 0 ? `(${items.join(', ')})` : '');
    await client.query(`PREPARE ${name}${list(types)} AS ${sql}`);
    const plan = await client.query<{ 'QUERY PLAN': string }>(
      `EXPLAIN EXECUTE ${name}${list(args)}`,
    );
    return plan.rows.map((r) => r['QUERY PLAN']).join('\n');
  }

  const id = `'${randomUUID()}'`;

  it.each([
    [
      'settle_completed',
      () => q.settleCompleted,
      ['uuid[]', 'uuid[]', 'int[]', 'text'],
      [`'{}'`, `'{}'`, `'{}'`, `'w'`],
    ],
    ['settle_any', () => q.settle, ['json', 'text'], [`'[]'`, `'w'`]],
    ['refuse', () => q.refuse, ['uuid', 'uuid', 'int', 'text'], [id, id, '1', `'w'`]],
    ['renew', () => q.renew, ['json', 'bigint'], [`'[]'`, '30000']],
  ] as const)('%s does not go through the lease index', async (name, sql, types, args) => {
    const plan = await genericPlan(name, sql(), [...types], [...args]);
    // by primary key, or on a table this small a hash join over a sequential scan: not
    // through the lease index
    expect(plan).toMatch(/commands_pkey|Seq Scan on commands/);
    expect(plan).not.toContain('commands_leases');
  });

  // A batch's progress is read from the index of its waiting commands and the lease index,
  // never by reading the table: a batch drain checks for its end several times a second.
  it.each([
    [
      'batch_without_pending',
      () => batches.withoutPendingAmong,
      ['uuid[]'],
      [`'{${batchId}}'`],
      // backwards, from the newest entry: a drain claims the oldest first
      'Index Only Scan Backward using commands_batch_waiting',
    ],
    ['batch_running', () => batches.running, ['uuid[]'], [`'{${batchId}}'`], 'commands_leases'],
  ] as const)('%s probes an index, not the table', async (name, sql, types, args, index) => {
    await client.query('BEGIN');
    try {
      await client.query(BatchStore.PROBE_SETTINGS);
      const plan = await genericPlan(name, sql(), [...types], [...args]);
      expect(plan).toContain(index);
      expect(plan).not.toMatch(/Seq Scan|Bitmap/);
    } finally {
      await client.query('ROLLBACK');
    }
  });

  it('counts a batch from its indexes', async () => {
    const plan = await genericPlan('batch_counts', batches.counts, ['uuid'], [`'${batchId}'`]);
    expect(plan).toContain('commands_leases');
  });

  it('claims from the pending index', async () => {
    const plan = await genericPlan(
      'claim_any',
      q.claimAnyType,
      ['text', 'int', 'uuid', 'bigint', 'text', 'text[]', 'int[]', 'int'],
      [`'plans'`, '500', id, '30000', `'w'`, `'{}'`, `'{}'`, '5'],
    );
    expect(plan).toContain('commands_claim');
  });

  // Read at every metrics scrape: probes of the claim index per domain and priority, never
  // a pass over the pending commands (the counts table it starts from is small).
  it.each([
    ['oldest_pending_all', false, [], []],
    ['oldest_pending_one', true, ['text'], [`'plans'`]],
  ] as const)('%s probes the claim index', async (name, forDomain, types, args) => {
    const sql = oldestPendingSql(`"${schema}"`, forDomain);
    const plan = await genericPlan(name, sql, [...types], [...args]);
    expect(plan).toContain('Index Only Scan using commands_claim');
    expect(plan).not.toMatch(/Seq Scan on commands |Bitmap Heap Scan on commands /);
    expect(plan.match(/-> {2}Limit/g)?.length).toBe(3);
  });

  // A claim lost in a server crash leaves its command pending, to be claimed again: the
  // at-least-once guarantee holds without waiting for the claim's WAL to reach the disk.
  // Sends, outcomes and operator actions still commit synchronously.
  it('commits a claim asynchronously, for its own transaction only', async () => {
    const claim = {
      text: q.claimAnyType,
      values: ['plans', 1, randomUUID(), 30_000, 'w', [], [], 5],
    };
    await client.query('BEGIN');
    try {
      expect((await client.query(claim)).rowCount).toBe(1);
      const inside = await client.query<{ synchronous_commit: string }>('SHOW synchronous_commit');
      expect(inside.rows[0]!.synchronous_commit).toBe('off');
    } finally {
      await client.query('ROLLBACK');
    }
    expect((await client.query(claim)).rowCount).toBe(1);
    const after = await client.query<{ synchronous_commit: string }>('SHOW synchronous_commit');
    expect(after.rows[0]!.synchronous_commit).toBe('on');
  });
});
