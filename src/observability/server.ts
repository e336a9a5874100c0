/**
 * The operations server: /health (liveness), /ready (readiness) and /metrics, on Hono over
 * Node's http server. Other routes (the operator console's /api) are added through
 * `mount` before it listens: Hono builds its router at the first request.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createAdaptorServer } from '@hono/node-server';
import { Hono } from 'hono';
import type { Logger } from 'pino';
import type { CommandBus } from '../bus/bus.js';
import { ConfigurationError } from '../core/errors.js';
import { logFailure } from '../core/log-safely.js';
import type { Worker } from '../worker/worker.js';
import { ReadinessState, StoreCheck } from './readiness.js';

/** What /metrics serves: the Prometheus text and its content type. */
export interface MetricsSource {
  text(): Promise<string>;
  readonly contentType: string;
}

export interface OperationsServerOptions {
  /** 0 picks a free port (tests). */
  port: number;
  /** Default '0.0.0.0' (containers); tests use '127.0.0.1'. */
  host?: string | undefined;
  /** Served at /metrics; without it /metrics answers 404 with a clear body. */
  metrics?: MetricsSource | undefined;
  logger?: Logger | undefined;
  /** Adds more routes to the app before it listens (the console's /api). */
  mount?: ((app: Hono) => void) | undefined;
  /**
   * What to do when the port is taken, naming the setting that chose it; default the
   * health port's (the console names DISPATCHBOX_CONSOLE_PORT).
   */
  portFix?: string | undefined;
  /** How long /ready's store check may take before it counts as unreachable. Default 2000 ms. */
  storeCheckTimeoutMs?: number | undefined;
}

export interface OperationsServer {
  /** The port it listens on. */
  readonly port: number;
  /** http://host:port; on a wildcard host (0.0.0.0, ::), the loopback address. */
  readonly url: string;
  /** /ready answers 200 only once this worker has started, and 503 while its store is down. */
  watchWorker(worker: Worker): void;
  /** /ready also answers 503 while `check` gives reasons (a stream service not ready). */
  watchReadiness(check: () => string[]): void;
  /** /ready answers 503 from now on (the first step of a graceful shutdown). */
  beginShutdown(): void;
  close(): Promise<void>;
}

/** How long close() lets requests in flight finish before it cuts their connections. */
const CLOSE_GRACE_MS = 1000;
/** The event loop delay /health reports is over about this long. */
const DELAY_WINDOW_MS = 60_000;
/** Probes must see the answer of now, never a cached one. */
const NO_STORE = { 'cache-control': 'no-store' };

/**
 * Starts the operations server and resolves once it listens. /ready is 503 until every
 * worker given to `watchWorker` has started, while the store misses its ping (one ping a
 * second at most) or a watched worker's store calls fail, and from `beginShutdown` on;
 * with no worker watched, it is 200 while the store answers. A port already in use is a
 * ConfigurationError naming DISPATCHBOX_HEALTH_PORT.
 */
export async function startOperationsServer(
  bus: CommandBus,
  options: OperationsServerOptions,
): Promise<OperationsServer> {
  const port = checkPort(options.port);
  const host = options.host ?? '0.0.0.0';
  const logger = options.logger ?? bus.logger;
  const timeoutMs = options.storeCheckTimeoutMs ?? 2000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new ConfigurationError(
      `storeCheckTimeoutMs must be a positive number of milliseconds; got ${String(timeoutMs)}`,
    );
  }
  const readiness = new ReadinessState(new StoreCheck(() => bus.backend.ping(), timeoutMs), logger);
  const delay = monitorEventLoopDelay({ resolution: 20 });
  const app = operationsApp(readiness, delay, options.metrics, logger);
  options.mount?.(app);

  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
  await listen(server, port, host, options.portFix ?? HEALTH_PORT_FIX);
  // after listening, a server error (a failing socket) is logged; the process goes on
  server.on('error', (error) => logFailure(logger, 'warn', {}, error, 'operations server error'));
  delay.enable();
  const resetDelay = setInterval(() => delay.reset(), DELAY_WINDOW_MS).unref();
  const bound = (server.address() as AddressInfo).port;
  const url = `http://${reachableHost(host)}:${bound}`;
  logger.info({ url }, 'operations server listening: /health, /ready, /metrics');

  let closing: Promise<void> | null = null;
  return {
    port: bound,
    url,
    watchWorker: (worker) => readiness.watch(worker),
    watchReadiness: (check) => readiness.watchCheck(check),
    beginShutdown: () => readiness.beginShutdown(),
    close: () =>
      (closing ??= (async () => {
        readiness.beginShutdown();
        readiness.close();
        clearInterval(resetDelay);
        delay.disable();
        await closeServer(server);
      })()),
  };
}

function operationsApp(
  readiness: ReadinessState,
  delay: ReturnType<typeof monitorEventLoopDelay>,
  metrics: MetricsSource | undefined,
  logger: Logger,
): Hono {
  const app = new Hono();
  const startedAt = performance.now();

  // Liveness: answered from memory, so a store outage never gets the process restarted.
  app.get('/health', (c) =>
    c.json(
      {
        status: 'ok',
        uptimeS: Math.round((performance.now() - startedAt) / 1000),
        eventLoopDelayMs: eventLoopDelay(delay),
      },
      200,
      NO_STORE,
    ),
  );

  app.get('/ready', async (c) => {
    const { ready, reasons } = await readiness.evaluate();
    return ready
      ? c.json({ status: 'ready' }, 200, NO_STORE)
      : c.json({ status: 'not ready', reasons }, 503, NO_STORE);
  });

  app.get('/metrics', async (c) => {
    if (!metrics) {
      return c.json(
        { error: 'no metrics are collected by this process: /metrics is not served' },
        404,
        NO_STORE,
      );
    }
    return c.body(await metrics.text(), 200, {
      ...NO_STORE,
      'content-type': metrics.contentType,
    });
  });

  app.notFound((c) =>
    c.json(
      { error: `no such endpoint: ${c.req.method} ${c.req.path}; try /health, /ready or /metrics` },
      404,
    ),
  );
  // A failing route answers 500 and is logged; the process goes on.
  app.onError((error, c) => {
    logFailure(logger, 'error', { path: c.req.path }, error, 'operations endpoint failed');
    return c.json({ error: `${c.req.path} failed; see the process log` }, 500, NO_STORE);
  });
  return app;
}

/** The delay of the event loop in ms over the last minute or so: median, p99, worst. */
function eventLoopDelay(delay: ReturnType<typeof monitorEventLoopDelay>) {
  const ms = (ns: number) => Math.round(ns / 1e4) / 100;
  if (delay.count === 0) return { p50: 0, p99: 0, max: 0 };
  return { p50: ms(delay.percentile(50)), p99: ms(delay.percentile(99)), max: ms(delay.max) };
}

function checkPort(port: unknown): number {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new ConfigurationError(
      `the operations server's port must be a whole number from 0 to 65535 (DISPATCHBOX_HEALTH_PORT); got ${JSON.stringify(port)}`,
    );
  }
  return port;
}

const HEALTH_PORT_FIX =
  'set DISPATCHBOX_HEALTH_PORT (--health-port) to a free port, or to 0 to serve no health endpoints';

function listen(server: Server, port: number, host: string, fix: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const failed = (error: NodeJS.ErrnoException) => {
      server.off('listening', listening);
      reject(listenError(error, port, host, fix));
    };
    const listening = () => {
      server.off('error', failed);
      resolve();
    };
    server.once('error', failed).once('listening', listening);
    server.listen(port, host);
  });
}

function listenError(error: NodeJS.ErrnoException, port: number, host: string, fix: string): Error {
  const where = `${host}:${port}`;
  switch (error.code) {
    case 'EADDRINUSE':
      return new ConfigurationError(
        `the operations server cannot listen on ${where}: the port is in use by another process; ${fix}`,
        { cause: error },
      );
    case 'EACCES':
      return new ConfigurationError(
        `the operations server may not listen on ${where}: ports below 1024 need privileges; ${fix}`,
        { cause: error },
      );
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
      return new ConfigurationError(
        `the operations server cannot listen on ${where}: ${host} is not an address of this machine`,
        { cause: error },
      );
    default:
      return new ConfigurationError(
        `the operations server cannot listen on ${where}: ${error.message}; ${fix}`,
        { cause: error },
      );
  }
}

/** Where to reach a server from this machine: a wildcard host means its loopback. */
function reachableHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

/** Stops accepting, lets requests in flight finish for a moment, then cuts the rest. */
function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    const cut = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS).unref();
    server.close(() => {
      clearTimeout(cut);
      resolve();
    });
    server.closeIdleConnections();
  });
}
