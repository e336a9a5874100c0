import { rmSync } from 'node:fs';
import type { CreateDispatchboxOptions } from '../../src/index.js';
import { DispatchboxAdapter } from './dispatchbox.js';
import { analyzeSchema, freshPGliteDir, type SqlClient } from './sql-tools.js';

const SCHEMA = 'dispatchbox';

/**
 * Dispatchbox on its embedded store (PGlite), in a fresh temporary directory per run,
 * as `createDispatchbox({ dataDir })` opens it by default (on disk, not in memory).
 * The directory starts as a copy of an empty PGlite (see freshPGliteDir).
 */
export class DispatchboxPGlite extends DispatchboxAdapter {
  readonly name: string = 'dispatchbox-pglite';
  readonly store = 'pglite' as const;
  private dataDir: string | null = null;

  protected async options(): Promise<CreateDispatchboxOptions> {
    this.dataDir ??= await freshPGliteDir('dispatchbox-bench-');
    return { dataDir: this.dataDir, schema: SCHEMA };
  }

  protected async wipe(): Promise<void> {
    if (this.dataDir) rmSync(this.dataDir, { recursive: true, force: true });
    this.dataDir = await freshPGliteDir('dispatchbox-bench-');
  }

  async analyze(): Promise<void> {
    // ANALYZE is maintenance, not part of the public API: reach the store's one connection.
    const driver = (this.openBus.backend as unknown as { driver: SqlClient }).driver;
    await analyzeSchema(driver, SCHEMA);
  }

  override async close(): Promise<void> {
    await super.close();
    if (this.dataDir) rmSync(this.dataDir, { recursive: true, force: true });
    this.dataDir = null;
  }
}

export default DispatchboxPGlite;
