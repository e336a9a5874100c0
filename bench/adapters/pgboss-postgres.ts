import type pg from 'pg';
import { PG_URL } from './adapter.js';
import { PgBossAdapter } from './pgboss.js';
import { benchPool, type SqlClient } from './sql-tools.js';

/** pg-boss on PostgreSQL, schema `pgboss` of the `bench` database, its own pg pool. */
export class PgBossPostgres extends PgBossAdapter {
  readonly name = 'pgboss-postgres';
  readonly store = 'postgres' as const;
  private admin: pg.Pool | null = null;

  protected async connection() {
    await this.sql();
    return { connectionString: PG_URL };
  }

  protected async sql(): Promise<SqlClient> {
    this.admin ??= await benchPool();
    return this.admin;
  }

  override async close(): Promise<void> {
    await super.close();
    await this.admin?.end();
    this.admin = null;
  }
}

export default PgBossPostgres;
