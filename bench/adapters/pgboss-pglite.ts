import { rmSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { fromPglite } from 'pg-boss';
import { PgBossAdapter } from './pgboss.js';
import { freshPGliteDir, type SqlClient } from './sql-tools.js';

/**
 * pg-boss on PGlite, the peer of our embedded store: its own PGlite adapter
 * (`fromPglite`, `backend: 'pglite'`, in-process LISTEN/NOTIFY) on a PGlite in a fresh
 * temporary directory per run (a copy of an empty PGlite), as ours is.
 */
export class PgBossPGlite extends PgBossAdapter {
  readonly name = 'pgboss-pglite';
  readonly store = 'pglite' as const;
  private dataDir: string | null = null;
  private pglite: PGlite | null = null;

  private async db(): Promise<PGlite> {
    this.dataDir ??= await freshPGliteDir('pgboss-bench-');
    this.pglite ??= await PGlite.create({ dataDir: this.dataDir });
    return this.pglite;
  }

  protected async connection() {
    return { db: fromPglite(await this.db()), backend: 'pglite' as const };
  }

  protected async sql(): Promise<SqlClient> {
    return this.db();
  }

  override async reset(): Promise<void> {
    await this.boss?.stop({ graceful: false, close: false });
    this.boss = null;
    await this.pglite?.close();
    this.pglite = null;
    if (this.dataDir) rmSync(this.dataDir, { recursive: true, force: true });
    this.dataDir = await freshPGliteDir('pgboss-bench-');
    await this.open();
  }

  override async close(): Promise<void> {
    await super.close();
    await this.pglite?.close();
    this.pglite = null;
    if (this.dataDir) rmSync(this.dataDir, { recursive: true, force: true });
    this.dataDir = null;
  }
}

export default PgBossPGlite;
