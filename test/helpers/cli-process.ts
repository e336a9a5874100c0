import { spawn } from 'node:child_process';
import path from 'node:path';

const root = path.join(import.meta.dirname, '..', '..');

export interface CliRun {
  code: number | null;
  out: string;
  err: string;
}

/**
 * Runs the CLI (`src/cli/main.ts` under tsx) in a child process, with the logs at warn and
 * no health port unless `env` says otherwise; `onLine` sees each stdout line as it comes
 * and may send the process a signal.
 */
export function spawnCli(
  args: string[],
  env: Record<string, string>,
  options: {
    stdin?: string;
    onLine?: (line: string, signal: (s: NodeJS.Signals) => void) => void;
  } = {},
): Promise<CliRun> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: root,
    env: { ...process.env, DISPATCHBOX_LOG_LEVEL: 'warn', DISPATCHBOX_HEALTH_PORT: '0', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => {
    const text = chunk.toString();
    out += text;
    for (const line of text.split('\n')) options.onLine?.(line, (s) => child.kill(s));
  });
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  child.stdin.end(options.stdin ?? '');
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, out, err })));
}
