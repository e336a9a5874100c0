import { Command } from 'commander';
import type { WorkerEntry } from '../../backends/worker-registry.js';
import { configOf, printJson, withBus, type CliIo } from '../context.js';

/** `dispatchbox workers`: the workers recorded in the store, with their status and counters. */
export function workersCommand(io: CliIo): Command {
  return new Command('workers')
    .description('list the workers recorded in the store: alive, stale (silent) or stopped')
    .option('--json', 'print the workers as JSON')
    .action(async (options: { json?: boolean }, command: Command) => {
      const workers = await withBus(configOf(command, io), 'workers', (bus) => bus.workers());
      if (options.json) printJson(io, workers);
      else io.out(formatWorkerList(workers));
    });
}

const seconds = (ms: number): string =>
  ms < 60_000 ? `${Math.round(ms / 1000)}s ago` : `${Math.round(ms / 60_000)}m ago`;

/** One line per worker; the counters are the worker's since it started. */
export function formatWorkerList(workers: WorkerEntry[]): string {
  if (workers.length === 0) return '(no workers)';
  const header = `${'ID'.padEnd(40)}  ${'STATUS'.padEnd(7)}  ${'HOST'.padEnd(20)}  ${'PID'.padEnd(7)}  ${'CONC'.padEnd(4)}  ${'DONE'.padEnd(8)}  ${'RETRIED'.padEnd(7)}  ${'TSQ'.padEnd(5)}  ${'LAST SEEN'.padEnd(9)}  DOMAINS`;
  const lines = workers.map((w) => {
    const n = (name: string) => String(w.counters[name] ?? 0);
    const domains = `${w.domains.join(',')}${w.types ? ` (${w.types.join(',')})` : ''}`;
    return [
      cut(w.id, 40).padEnd(40),
      w.status.padEnd(7),
      cut(w.host, 20).padEnd(20),
      String(w.pid).padEnd(7),
      String(w.concurrency).padEnd(4),
      n('completed').padEnd(8),
      n('retried').padEnd(7),
      n('troubleshooting').padEnd(5),
      seconds(w.silentMs).padEnd(9),
      cut(domains, 60),
    ].join('  ');
  });
  return [header, ...lines].join('\n');
}

function cut(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}
