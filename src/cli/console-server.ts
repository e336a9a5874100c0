/**
 * The console served by the CLI: mounted on an operations server (so /health, /ready and
 * /metrics answer on the console's port too) at DISPATCHBOX_CONSOLE_PORT.
 */
import type { CommandBus } from '../bus/bus.js';
import type { ConsoleConfig } from '../config/index.js';
import { toConsoleOptions } from '../config/index.js';
import { createConsole } from '../console/index.js';
import { createMetrics, startOperationsServer } from '../observability/index.js';

export interface ServedConsole {
  /** Where a browser opens it: http://host:port/basePath/ */
  readonly url: string;
  /** /ready answers 503 from now on (the first step of stopping). */
  beginShutdown(): void;
  /** Ends the live streams and the background jobs, then closes the server. */
  close(): Promise<void>;
}

export async function serveConsole(
  bus: CommandBus,
  config: ConsoleConfig,
  options: { metrics?: boolean } = {},
): Promise<ServedConsole> {
  const consoleOptions = toConsoleOptions(config);
  const dispatchboxConsole = createConsole(bus, consoleOptions);
  const metrics = options.metrics ? createMetrics(bus, { processMetrics: true }) : undefined;
  try {
    const server = await startOperationsServer(bus, {
      port: config.consolePort,
      host: config.consoleHost,
      metrics,
      logger: bus.logger,
      mount: (app) => app.route('/', dispatchboxConsole.app),
      portFix:
        'set DISPATCHBOX_CONSOLE_PORT (--console-port) to a free port, or to 0 for any free port',
    });
    return {
      url: `${server.url}${consoleOptions.basePath ?? ''}/`,
      beginShutdown: () => server.beginShutdown(),
      close: async () => {
        server.beginShutdown();
        await dispatchboxConsole.close();
        await server.close();
        metrics?.close();
      },
    };
  } catch (error) {
    await dispatchboxConsole.close();
    metrics?.close();
    throw error;
  }
}
