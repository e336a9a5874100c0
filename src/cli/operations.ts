import type { Command } from 'commander';
import type { CommandBus } from '../bus/bus.js';
import type { DispatchboxConfig } from '../config/index.js';
import { createConsole, type ConsoleOptions } from '../console/index.js';
import { createMetrics, startOperationsServer, startStatsLine } from '../observability/index.js';
import type { Worker } from '../worker/worker.js';
import type { CliIo } from './context.js';

/** The flags of every setting with scope 'operations' (see src/config/settings.ts). */
export function addOperationsOptions(command: Command): Command {
  return command
    .option(
      '--health-port <port>',
      'serve /health, /ready and /metrics on this port, 0 for none (DISPATCHBOX_HEALTH_PORT, default 8080)',
    )
    .option(
      '--stats-interval <duration>',
      "log one stats line this often, e.g. '60s', 0 for none (DISPATCHBOX_STATS_INTERVAL, default 60s)",
    );
}

/**
 * Stops what startOperations started, gracefully: /ready answers 503 first (so no new
 * work is routed here), then the worker drains (stop: its running handlers finish within
 * the shutdown timeout), then the endpoints close.
 */
export type StopOperations = () => Promise<void>;

/**
 * Starts `worker` with what a long-running `dispatchbox worker` or `dispatchbox start`
 * offers operators: the operations server on DISPATCHBOX_HEALTH_PORT (none when it is 0)
 * with the Prometheus metrics of the bus and the worker, watching the worker, so /ready
 * answers 503 until the worker has started; and the stats line every
 * DISPATCHBOX_STATS_INTERVAL. With `consoleOptions` (`worker --console`), the operator
 * console on the same port. A worker that fails to start closes the server again.
 * Resolves to the function that stops all of it.
 */
export async function startOperations(
  bus: CommandBus,
  worker: Worker,
  config: DispatchboxConfig,
  io: CliIo,
  consoleOptions?: ConsoleOptions,
): Promise<StopOperations> {
  const server =
    config.healthPort === 0 ? null : await serve(bus, worker, config.healthPort, consoleOptions);
  try {
    await worker.start();
  } catch (error) {
    await server?.close();
    throw error;
  }
  const stopStats =
    config.statsIntervalMs === 0
      ? () => {}
      : startStatsLine(bus, worker, { intervalMs: config.statsIntervalMs, logger: bus.logger });
  if (server) {
    io.out(
      `health endpoints: ${server.url}/health (liveness), ${server.url}/ready (readiness), ${server.url}/metrics (listening on 0.0.0.0:${server.port}, DISPATCHBOX_HEALTH_PORT)`,
    );
    if (consoleOptions) io.out(`console: ${server.url}${consoleOptions.basePath ?? ''}/`);
  }
  return async () => {
    server?.beginShutdown();
    try {
      await worker.stop();
    } finally {
      stopStats();
      await server?.close();
    }
  };
}

/** The operations server with the bus's and the worker's metrics, counting before it starts. */
async function serve(
  bus: CommandBus,
  worker: Worker,
  port: number,
  consoleOptions: ConsoleOptions | undefined,
) {
  const metrics = createMetrics(bus, { processMetrics: true });
  metrics.observeWorker(worker);
  const mounted = consoleOptions ? createConsole(bus, consoleOptions) : null;
  try {
    const server = await startOperationsServer(bus, {
      port,
      host: '0.0.0.0',
      metrics,
      logger: bus.logger,
      mount: mounted ? (app) => app.route('/', mounted.app) : undefined,
    });
    server.watchWorker(worker);
    return {
      url: server.url,
      port: server.port,
      beginShutdown: () => server.beginShutdown(),
      close: async () => {
        await mounted?.close();
        await server.close();
        metrics.close();
      },
    };
  } catch (error) {
    await mounted?.close();
    metrics.close();
    throw error;
  }
}
