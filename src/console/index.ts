/**
 * The operator console: an HTTP API over a command bus (JSON, zod-validated, described by
 * an OpenAPI document) and the single-page app that uses it. `createConsole` returns a
 * Hono app and a fetch handler, to mount in an application's own server or to run
 * standalone (`dispatchbox console`). See docs/console.md.
 */
import type { Hono } from 'hono';
import type { Logger } from 'pino';
import type { CommandBus } from '../bus/bus.js';
import { ConfigurationError } from '../core/errors.js';
import { buildConsoleApp } from './app.js';
import { Authenticator, type ConsoleAuthOptions } from './auth.js';
import { createJobRunner } from './jobs.js';
import { LiveHub } from './live.js';
import type { JobRunner } from './types.js';

export { hashPassword, verifyPassword, parseConsoleUsers, isLoopbackHost } from './auth.js';
export type { ConsoleAuthOptions, ConsoleUserRecord } from './auth.js';
export type { ConsoleRole, ConsoleUser, JobRunner, JobSnapshot } from './types.js';

export interface ConsoleOptions {
  /** Where the console is mounted, e.g. '/ops/console' behind a proxy; default '' (the root). */
  basePath?: string | undefined;
  /** Credentials; none on a loopback host means no auth (everyone is the local operator). */
  auth?: ConsoleAuthOptions | undefined;
  /**
   * The host the server listens on. Without credentials the console refuses to be created
   * for a host beyond loopback. Default '127.0.0.1'.
   */
  host?: string | undefined;
  /** Default: a child of the bus's logger. */
  logger?: Logger | undefined;
  /** How often live updates read the counts and the watched commands. Default 1000 ms. */
  livePollMs?: number | undefined;
  /** The runner of background jobs (bulk actions, load generation); default a new one. */
  jobs?: JobRunner | undefined;
  /** Where the built page is; default <package>/dist/console. */
  pageDir?: string | undefined;
}

export interface DispatchboxConsole {
  /** The Hono app; mount it with `parent.route('/', app)` (its routes carry the base path). */
  app: Hono;
  /** A standard fetch handler: for Node's http (via @hono/node-server), Deno, Bun, workers. */
  fetch(request: Request): Promise<Response>;
  /** Ends the live streams and stops the background jobs it started. */
  close(): Promise<void>;
}

export function createConsole(bus: CommandBus, options: ConsoleOptions = {}): DispatchboxConsole {
  const basePath = checkBasePath(options.basePath ?? '');
  const livePollMs = options.livePollMs ?? 1000;
  if (!Number.isInteger(livePollMs) || livePollMs < 50 || livePollMs > 60_000)
    throw new ConfigurationError(
      `livePollMs must be a whole number of milliseconds from 50 to 60000; got ${String(livePollMs)}`,
    );
  const auth = new Authenticator(options.auth ?? {}, options.host ?? '127.0.0.1');
  const logger = options.logger ?? bus.logger.child({ component: 'console' });
  const jobs = options.jobs ?? createJobRunner(logger);
  const live = new LiveHub(bus, logger, livePollMs);
  const app = buildConsoleApp({
    deps: { bus, logger, jobs },
    auth,
    live,
    basePath,
    logger,
    pageDir: options.pageDir,
  });
  let closing: Promise<void> | null = null;
  return {
    app,
    fetch: async (request) => app.fetch(request),
    close: () =>
      (closing ??= (async () => {
        live.close();
        if (!options.jobs) await jobs.close();
      })()),
  };
}

/** '' or '/a/b': a leading slash, no trailing one, URL-safe segments. */
function checkBasePath(value: unknown): string {
  if (typeof value !== 'string')
    throw new ConfigurationError(
      `basePath (DISPATCHBOX_CONSOLE_BASE_PATH) must be text such as '/ops/console'; got ${typeof value}`,
    );
  const trimmed = value.trim().replace(/\/+$/, '');
  if (trimmed === '') return '';
  if (!/^(\/[A-Za-z0-9._~-]+)+$/.test(trimmed) || /\/\.\.?(\/|$)/.test(trimmed))
    throw new ConfigurationError(
      `basePath (DISPATCHBOX_CONSOLE_BASE_PATH) must be a URL path such as '/ops/console': a leading /, segments of letters, digits, . _ ~ -; got ${JSON.stringify(value)}`,
    );
  return trimmed;
}
