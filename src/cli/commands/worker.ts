import { Command } from 'commander';
import { toWorkerOptions, WORKER_SETTINGS, type Setting } from '../../config/index.js';
import type { HandlerSink } from '../../bus/decorators.js';
import { discoverHandlers } from '../../bus/discover.js';
import { ConfigurationError } from '../../core/errors.js';
import { loadConsoleConfig, toConsoleOptions, type DispatchboxConfig } from '../../config/index.js';
import { checkConsoleOptions, type ConsoleOptions } from '../../console/index.js';
import { configOf, withBus, type CliIo } from '../context.js';
import { addOperationsOptions, startOperations } from '../operations.js';
import { waitForStopSignal } from '../signals.js';

/**
 * The flags of every worker setting (src/config/worker-settings.ts) but the handlers
 * directory, which only `dispatchbox worker` takes; each help line names its variable. And
 * those of the operations endpoints every long-running worker serves.
 */
export function addWorkerOptions(command: Command): Command {
  addOperationsOptions(command);
  for (const s of Object.values(WORKER_SETTINGS)) {
    if (s.flag === null || s.flag === WORKER_SETTINGS.handlersDir.flag) continue;
    command.option(`--${s.flag} ${placeholder(s)}`, `${s.description} (${s.env})`);
  }
  return command;
}

function placeholder(s: Setting<unknown>): string {
  if (s.env.endsWith('_MS')) return '<ms>';
  if (s.accepted === 'true or false') return '<true|false>';
  if (s.accepted.startsWith('a duration')) return '<duration>';
  if (s.accepted.startsWith('a comma-separated')) return '<list>';
  if (s.accepted.startsWith("'auto'")) return '<n|auto>';
  if (s.accepted.startsWith('a name')) return '<name>';
  return s.accepted.startsWith('a whole number') ? '<n>' : '<value>';
}

export function workerCommand(io: CliIo): Command {
  return addWorkerOptions(
    new Command('worker')
      .description(
        'run the handlers found in a directory until SIGTERM or Ctrl-C, then stop gracefully',
      )
      .option('--handlers <dir>', 'directory of handler modules (DISPATCHBOX_HANDLERS_DIR)')
      .option(
        '--console',
        'also serve the operator console on the health port (it listens on 0.0.0.0: needs DISPATCHBOX_CONSOLE_TOKEN or DISPATCHBOX_CONSOLE_USERS)',
      ),
  ).action(async (options: { console?: boolean }, command: Command) => {
    const config = configOf(command, io);
    const consoleOptions = options.console ? workerConsoleOptions(config, io) : undefined;
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
      const stopOperations = await startOperations(bus, worker, config, io, consoleOptions);
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

/**
 * The console `worker --console` mounts on its health port, which listens on 0.0.0.0:
 * checked (credentials required) before the handlers load or the store opens.
 */
function workerConsoleOptions(config: DispatchboxConfig, io: CliIo): ConsoleOptions {
  if (config.healthPort === 0) {
    throw new ConfigurationError(
      '--console serves the console on the health port, and DISPATCHBOX_HEALTH_PORT (--health-port) is 0 (none); give it a port, or run dispatchbox console beside the worker',
    );
  }
  const options = { ...toConsoleOptions(loadConsoleConfig({ env: io.env })), host: '0.0.0.0' };
  checkConsoleOptions(options);
  return options;
}
