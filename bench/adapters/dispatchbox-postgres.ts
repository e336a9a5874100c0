import type pg from 'pg';
import type { CreateDispatchboxOptions } from '../../src/index.js';
import { PG_URL } from './adapter.js';
import { DispatchboxAdapter } from './dispatchbox.js';
import { analyzeSchema, benchPool, dropSchema } from './sql-tools.js';

const SCHEMA = 'bench_dispatchbox';

/** Dispatchbox on PostgreSQL, in its own schema of the `bench` database. */
export class DispatchboxPostgres extends DispatchboxAdapter {
  readonly name: string = 'dispatchbox-postgres';
  readonly store = 'postgres' as const;
  private admin: pg.Pool | null = null;

  private async pool(): Promise<pg.Pool> {
    this.admin ??= await benchPool();
    return this.admin;
  }

  protected async options(): Promise<CreateDispatchboxOptions> {
    await this.pool();
    return { databaseUrl: PG_URL, schema: SCHEMA };
  }

  protected async wipe(): Promise<void> {
    await dropSchema(await this.pool(), SCHEMA);
  }

  async analyze(): Promise<void> {
    await analyzeSchema(await this.pool(), SCHEMA);
  }

  override async close(): Promise<void> {
    await super.close();
    await this.admin?.end();
    this.admin = null;
  }
}

export default DispatchboxPostgres;
