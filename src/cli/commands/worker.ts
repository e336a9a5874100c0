import { Command } from 'commander';
import { toWorkerOptions } from '../../config/index.js';
import type { HandlerSink } from '../../bus/decorators.js';
import { discoverHandlers } from '../../bus/discover.js';
import { ConfigurationError } from '../../core/errors.js';
import { configOf, withBus, type CliIo } from '../context.js';
import { addOperationsOptions, startOperations } from '../operations.js';
import { waitForStopSignal } from '../signals.js';

/**
 * The flags of every setting with scope 'worker' (see src/config/settings.ts), and those
 * of the operations endpoints every long-running worker serves.
 */
export function addWorkerOptions(command: Command): Command {
  return addOperationsOptions(command)
    .option('--concurrency <n>', 'handlers running at once (DISPATCHBOX_CONCURRENCY)')
    .option('--lease-ms <ms>', 'lease length (DISPATCHBOX_LEASE_MS)')
    .option('--poll-interval-ms <ms>', 'idle polling interval (DISPATCHBOX_POLL_INTERVAL_MS)')
    .option(
      '--shutdown-timeout-ms <ms>',
      'how long a graceful stop waits (DISPATCHBOX_SHUTDOWN_TIMEOUT_MS)',
    )
    .option(
      '--retention <duration>',
      "prune finished commands after, e.g. '7d' (DISPATCHBOX_RETENTION)",
    )
    .option('--domains <list>', 'only these domains, comma-separated (DISPATCHBOX_DOMAINS)')
    .option('--types <list>', 'only these command types, comma-separated (DISPATCHBOX_TYPES)');
}

export function workerCommand(io: CliIo): Command {
  return addWorkerOptions(
    new Command('worker')
      .description(
        'run the handlers found in a directory until SIGTERM or Ctrl-C, then stop gracefully',
      )
      .option('--handlers <dir>', 'directory of handler modules (DISPATCHBOX_HANDLERS_DIR)'),
  ).action(async (_options: unknown, command: Command) => {
    const config = configOf(command, io);
    const dir = config.handlersDir;
    if (!dir) {
      throw new ConfigurationError(
        'the worker needs handlers: pass --handlers <dir> or set DISPATCHBOX_HANDLERS_DIR to a directory of handler modules (each exports domain, type and handle)',
      );
    }
    // The handler modules load before the store opens, so a module that cannot load
    // stops the worker at once and leaves the store untouched.
    const found: Parameters<HandlerSink['handle']>[] = [];
    const registered = await discoverHandlers({ handle: (...args) => found.push(args) }, dir);
    if (registered.length === 0) {
      throw new ConfigurationError(
        `no handler modules in ${dir} (DISPATCHBOX_HANDLERS_DIR); add files that export domain, type and handle`,
      );
    }
    await withBus(config, 'worker', async (bus) => {
      for (const [domain, type, options, fn] of found) bus.handle(domain, type, options, fn);
      const worker = bus.worker(toWorkerOptions(config));
      worker.on('settled', (r: { applied: string[]; stale: string[] }) =>
        bus.logger.debug({ applied: r.applied.length, stale: r.stale.length }, 'settled'),
      );
      const stopOperations = await startOperations(bus, worker, config, io);
      io.out(
        `worker ${worker.workerId} running ${registered.join(', ')}; stop with Ctrl-C or SIGTERM`,
      );
      const signal = await waitForStopSignal();
      io.out(
        `${signal}: stopping gracefully (up to ${config.shutdownTimeoutMs} ms for running handlers)`,
      );
      // /ready answers 503 first, then the handlers drain, then the endpoints close
      await stopOperations();
      io.out(`worker stopped: ${JSON.stringify(worker.stats)}`);
    });
  });
}
