import type { Command } from 'commander';
import type { CommandBus } from '../bus/bus.js';
import type { DispatchboxConfig } from '../config/index.js';
import { startOperationsServer } from '../observability/index.js';
import type { Worker } from '../worker/worker.js';
import type { CliIo } from './context.js';

/** The flags of every setting with scope 'operations' (see src/config/settings.ts). */
export function addOperationsOptions(command: Command): Command {
  return command.option(
    '--health-port <port>',
    'serve /health, /ready and /metrics on this port, 0 for none (DISPATCHBOX_HEALTH_PORT, default 8080)',
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
 * offers operators: the operations server on DISPATCHBOX_HEALTH_PORT (none when it is 0),
 * watching the worker, so /ready answers 503 until the worker has started. A worker that
 * fails to start closes the server again. Resolves to the function that stops both.
 */
export async function startOperations(
  bus: CommandBus,
  worker: Worker,
  config: DispatchboxConfig,
  io: CliIo,
): Promise<StopOperations> {
  if (config.healthPort === 0) {
    await worker.start();
    return () => worker.stop();
  }
  const server = await startOperationsServer(bus, {
    port: config.healthPort,
    host: '0.0.0.0',
    metrics: undefined,
    logger: bus.logger,
  });
  server.watchWorker(worker);
  try {
    await worker.start();
  } catch (error) {
    await server.close();
    throw error;
  }
  io.out(
    `health endpoints: ${server.url}/health (liveness), ${server.url}/ready (readiness), ${server.url}/metrics (listening on 0.0.0.0:${server.port}, DISPATCHBOX_HEALTH_PORT)`,
  );
  return async () => {
    server.beginShutdown();
    try {
      await worker.stop();
    } finally {
      await server.close();
    }
  };
}
