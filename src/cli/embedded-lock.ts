import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { ConfigurationError } from '../core/errors.js';

/**
 * The embedded database is one process's: PGlite has no server to share it, and two
 * processes writing the same directory corrupt it. The CLI therefore holds a lock file
 * beside the data directory (not inside it: PGlite wants an empty directory to create a
 * database in). PGlite has no such lock of its own, hence this small one.
 */
export function lockEmbeddedDatabase(dataDir: string, what: string): () => void {
  const lockPath = `${path.resolve(dataDir)}.lock`;
  mkdirSync(path.dirname(lockPath), { recursive: true });
  for (let tries = 0; tries < 2; tries++) {
    let fd: number;
    try {
      fd = openSync(lockPath, 'wx');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = readHolder(lockPath);
      if (holder && isAlive(holder.pid)) {
        throw new ConfigurationError(
          `the embedded database in ${dataDir} is in use by process ${holder.pid} (dispatchbox ${holder.what}); stop it first, use another DISPATCHBOX_DATA_DIR, or set DISPATCHBOX_DATABASE_URL to a PostgreSQL server that several processes can share`,
        );
      }
      unlinkStale(lockPath);
      continue;
    }
    writeSync(fd, JSON.stringify({ pid: process.pid, what }));
    closeSync(fd);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      process.off('exit', release);
      unlinkStale(lockPath);
    };
    process.on('exit', release);
    return release;
  }
  throw new ConfigurationError(
    `cannot take the lock ${lockPath} for the embedded database; remove it if no dispatchbox process is running`,
  );
}

function readHolder(lockPath: string): { pid: number; what: string } | null {
  try {
    const parsed = JSON.parse(readFileSync(lockPath, 'utf8')) as { pid?: unknown; what?: unknown };
    return typeof parsed.pid === 'number'
      ? { pid: parsed.pid, what: String(parsed.what ?? '') }
      : null;
  } catch {
    return null;
  }
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function unlinkStale(lockPath: string): void {
  try {
    unlinkSync(lockPath);
  } catch {
    // Already gone: another process cleaned it up.
  }
}
