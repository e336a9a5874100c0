import { SchemaVersionError } from '../../core/errors.js';
import type { Queryable } from '../backend.js';
import type { SqlDriver } from './driver.js';
import { LATEST_SCHEMA_VERSION, MIGRATIONS } from './migrations/index.js';

function render(sql: string, schema: string): string {
  return sql.replaceAll('$SCHEMA', `"${schema}"`);
}

/**
 * The schema's full SQL (every migration in order, plus the version table), for users
 * who run their own migration tools.
 */
export function schemaSql(schema = 'dispatchbox'): string {
  const parts = [
    `CREATE SCHEMA IF NOT EXISTS "${schema}";`,
    versionTableSql(schema),
    ...MIGRATIONS.map(
      (m) =>
        `-- ${String(m.version).padStart(3, '0')}_${m.name}\n${render(m.up, schema)}\nINSERT INTO "${schema}".schema_migrations (version, name) VALUES (${m.version}, '${m.name}');`,
    ),
  ];
  return parts.join('\n\n');
}

function versionTableSql(schema: string): string {
  return `CREATE TABLE IF NOT EXISTS "${schema}".schema_migrations (
  version    integer PRIMARY KEY,
  name       text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
);`;
}

/**
 * Applies what is missing, in one transaction, under an advisory lock so that several
 * processes starting together apply each migration once.
 */
export async function migrate(driver: SqlDriver, schema: string): Promise<number[]> {
  return driver.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`dispatchbox:migrate:${schema}`]);
    await tx.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await tx.exec(versionTableSql(schema));
    const current = await currentVersion(tx, schema);
    if (current > LATEST_SCHEMA_VERSION) throw newerSchema(schema, current);
    const applied: number[] = [];
    for (const m of MIGRATIONS) {
      if (m.version <= current) continue;
      await tx.exec(render(m.up, schema));
      await tx.query(`INSERT INTO "${schema}".schema_migrations (version, name) VALUES ($1, $2)`, [
        m.version,
        m.name,
      ]);
      applied.push(m.version);
    }
    return applied;
  });
}

/** Throws a SchemaVersionError that says what to run when the schema does not match. */
export async function checkSchema(db: Queryable, schema: string): Promise<void> {
  const exists = await db.query<{ present: boolean }>(
    `SELECT to_regclass($1) IS NOT NULL AS present`,
    [`"${schema}".schema_migrations`],
  );
  const current = exists.rows[0]?.present ? await currentVersion(db, schema) : 0;
  if (current < LATEST_SCHEMA_VERSION) {
    throw new SchemaVersionError(
      `schema "${schema}" is at version ${current}, this Dispatchbox needs ${LATEST_SCHEMA_VERSION}: run \`dispatchbox migrate\` (or start with migrate: true / DISPATCHBOX_MIGRATE=true)`,
    );
  }
  if (current > LATEST_SCHEMA_VERSION) throw newerSchema(schema, current);
}

async function currentVersion(db: Queryable, schema: string): Promise<number> {
  const result = await db.query<{ v: number | null }>(
    `SELECT max(version)::int AS v FROM "${schema}".schema_migrations`,
  );
  return Number(result.rows[0]?.v ?? 0);
}

function newerSchema(schema: string, current: number): SchemaVersionError {
  return new SchemaVersionError(
    `schema "${schema}" is at version ${current}, newer than this Dispatchbox knows (${LATEST_SCHEMA_VERSION}): upgrade dispatchbox in this application`,
  );
}
