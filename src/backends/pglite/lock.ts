import {
  closeSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { ConfigurationError } from '../../core/errors.js';

/** Who holds an embedded database directory, as written in its lock file. */
export interface LockHolder {
  pid: number;
  host: string;
  /** The holder's command line, shortened: which program to look for. */
  command: string;
  since: string;
}

/**
 * How long to wait for another process that is taking over a stale lock right now. It
 * holds the guard for a few file operations; only a process stopped in between (SIGSTOP,
 * a debugger) keeps it longer, and one that died leaves it to be removed at once.
 */
const TAKEOVER_WAIT_MS = 10_000;

/**
 * The embedded database belongs to one PGlite instance at a time: PGlite has no server to
 * share it and no lock of its own, and two instances writing one directory lose each
 * other's commits (one's checkpoint overwrites what the other acknowledged). Whoever opens
 * a directory therefore holds `<dir>.lock`, beside the directory rather than inside it
 * (PGlite creates its database in an empty one).
 *
 * The lock file appears whole or not at all (written to a private file, then hard-linked
 * into place, which fails if it exists). A lock left by a process that died (kill -9) is
 * taken over, under a second short-lived lock so that two processes finding the same
 * stale lock cannot both take it. Returns the function that releases it.
 */
export function lockDataDir(dataDir: string): () => void {
  const lockPath = `${path.resolve(dataDir)}.lock`;
  const me: LockHolder = {
    pid: process.pid,
    host: hostname(),
    command: commandLine(),
    since: new Date().toISOString(),
  };
  mkdirSync(path.dirname(lockPath), { recursive: true });
  for (let tries = 0; tries < 5; tries++) {
    if (createExclusive(lockPath, me)) return releaser(lockPath, me);
    const holder = readHolder(lockPath);
    if (holder && !isStale(holder)) throw inUse(dataDir, lockPath, holder);
    withTakeoverGuard(lockPath, () => {
      // Still the same dead holder (or unreadable)? Only the guard's holder removes one.
      const again = readHolder(lockPath);
      if (sameHolder(again, holder)) removeFile(lockPath);
    });
  }
  throw new ConfigurationError(
    `cannot take the lock ${lockPath} for the embedded database in ${dataDir}; remove the file if no process uses that directory`,
  );
}

function releaser(lockPath: string, me: LockHolder): () => void {
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.off('exit', release);
    if (sameHolder(readHolder(lockPath), me)) removeFile(lockPath);
  };
  process.on('exit', release);
  return release;
}

/** Creates `file` holding `content`, whole, unless it exists; false if it does. */
function createExclusive(file: string, content: object): boolean {
  const temp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  const fd = openSync(temp, 'wx');
  try {
    writeSync(fd, JSON.stringify(content));
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(temp, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    removeFile(temp);
  }
}

function withTakeoverGuard(lockPath: string, fn: () => void): void {
  const guardPath = `${lockPath}.takeover`;
  const deadline = Date.now() + TAKEOVER_WAIT_MS;
  const me = { pid: process.pid, host: hostname(), command: '', since: new Date().toISOString() };
  while (!createExclusive(guardPath, me)) {
    const guard = readHolder(guardPath);
    if (!guard || isStale(guard) || Date.now() > deadline) {
      removeFile(guardPath);
      continue;
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
  }
  try {
    fn();
  } finally {
    removeFile(guardPath);
  }
}

function readHolder(file: string): LockHolder | null {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockHolder>;
    if (typeof parsed.pid !== 'number') return null;
    return {
      pid: parsed.pid,
      host: String(parsed.host ?? ''),
      command: String(parsed.command ?? ''),
      since: String(parsed.since ?? ''),
    };
  } catch {
    return null;
  }
}

function sameHolder(a: LockHolder | null, b: LockHolder | null): boolean {
  if (a === null || b === null) return a === b;
  return a.pid === b.pid && a.host === b.host && a.since === b.since;
}

/** A holder on this machine whose process is gone. One on another machine is never stale. */
function isStale(holder: LockHolder): boolean {
  if (holder.host !== hostname()) return false;
  if (holder.pid === process.pid) return false;
  try {
    process.kill(holder.pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function inUse(dataDir: string, lockPath: string, h: LockHolder): ConfigurationError {
  const who =
    h.pid === process.pid && h.host === hostname()
      ? `this process (pid ${h.pid}), by another Dispatchbox or PGlite opened on it`
      : `process ${h.pid} on ${h.host} (${h.command}) since ${h.since}`;
  return new ConfigurationError(
    `the embedded database in ${dataDir} is in use by ${who}; stop it or close that one first, use another DISPATCHBOX_DATA_DIR, or set DISPATCHBOX_DATABASE_URL to a PostgreSQL server that several processes can share. If no such process runs, remove ${lockPath}`,
  );
}

function commandLine(): string {
  const [, script, ...args] = process.argv;
  const name = script ? path.basename(script) : process.title;
  return [name, ...args].join(' ').slice(0, 200);
}

function removeFile(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // Already gone.
  }
}

/**
 * Says clearly what is wrong with a data directory that cannot hold a database, before
 * PGlite is started on it (which otherwise fails late and without a readable message).
 */
export function checkDataDir(dataDir: string): void {
  const resolved = path.resolve(dataDir);
  const fix = 'set DISPATCHBOX_DATA_DIR (dataDir) to a directory this process can write';
  let isDirectory: boolean | null = null;
  try {
    isDirectory = statSync(resolved).isDirectory();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw unusable(dataDir, error, fix);
  }
  if (isDirectory === false)
    throw new ConfigurationError(
      `the data directory ${dataDir} is a file, not a directory; ${fix}`,
    );
  try {
    mkdirSync(resolved, { recursive: true });
    const probe = path.join(resolved, `.dispatchbox-write-test-${process.pid}`);
    closeSync(openSync(probe, 'w'));
    unlinkSync(probe);
  } catch (error) {
    throw unusable(dataDir, error, fix);
  }
}

function unusable(dataDir: string, error: unknown, fix: string): ConfigurationError {
  const e = error as NodeJS.ErrnoException;
  const reason =
    e.code === 'EACCES' || e.code === 'EPERM' || e.code === 'EROFS'
      ? 'is not writable'
      : e.code === 'ENOTDIR'
        ? 'lies under a file, not a directory'
        : `cannot be used (${e.code ?? e.message})`;
  return new ConfigurationError(`the data directory ${dataDir} ${reason}; ${fix}`, {
    cause: error,
  });
}
