import { execFile, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const ROOT = path.join(import.meta.dirname, '..', '..');

/** Builds the package and packs it as `npm publish` would; resolves to the tarball's path. */
export async function packPackage(into: string): Promise<string> {
  // `npm pack` runs the prepack script (the build) first, as publishing does.
  await run('npm', ['pack', '--pack-destination', into], {
    cwd: ROOT,
    maxBuffer: 64 * 1024 * 1024,
  });
  const tarball = readdirSync(into).find((f) => /^dispatchbox-.*\.tgz$/.test(f));
  if (!tarball) throw new Error(`npm pack left no dispatchbox-*.tgz in ${into}`);
  return path.join(into, tarball);
}

/**
 * A new application in `dir` (an ES module package, as the README's example needs) with
 * the packed tarball and `extra` packages installed from the registry, the way a user
 * installs them. --prefer-offline takes what npm's cache already has (CI's `npm ci` put
 * the same packages there), so the install is quick and still a real one.
 */
export async function scratchApp(dir: string, tarball: string, extra: string[]): Promise<string> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({ name: 'readme-app', private: true, type: 'module' }, null, 2),
  );
  await npmInstall(dir, [tarball, ...extra]);
  return dir;
}

export async function npmInstall(dir: string, specs: string[]): Promise<void> {
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', ...specs], {
    cwd: dir,
    maxBuffer: 64 * 1024 * 1024,
    timeout: 180_000,
  });
}

/** This process's environment without any DISPATCHBOX_* setting of the developer's own. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !k.startsWith('DISPATCHBOX_')) env[k] = v;
  return { ...env, ...extra };
}

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
}

/**
 * Runs a program to its end. With `until`, the program is one that runs until stopped:
 * once its output has a line matching `until`, it gets one SIGINT (Ctrl-C) and must then
 * stop by itself. `timeoutMs` bounds the whole run; a program still running then is
 * killed and the run fails with what it printed.
 */
export function runProgram(
  command: string,
  args: string[],
  options: {
    cwd: string;
    env: Record<string, string>;
    until?: (out: string, err: string) => boolean;
    timeoutMs: number;
  },
): Promise<Finished> {
  return new Promise((resolve, reject) => {
    // A process group of its own, so a run that times out is killed whole: tsx and npx
    // start the program as a child process of theirs.
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    let err = '';
    let interrupted = false;
    const check = () => {
      if (interrupted || !options.until?.(out, err)) return;
      interrupted = true;
      child.kill('SIGINT');
    };
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      check();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString();
      check();
    });
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
      reject(
        new Error(
          `${command} ${args.join(' ')} still ran after ${options.timeoutMs} ms${options.until && !interrupted ? ' and never printed what the test waits for' : ''}\n--- stdout\n${out}\n--- stderr\n${err}`,
        ),
      );
    }, options.timeoutMs);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, out, err });
    });
  });
}
