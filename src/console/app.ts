/**
 * The console's Hono app: security headers on everything, the /api routes behind the
 * guard (auth, roles, CSRF), their OpenAPI document, problem+json for every error, and the
 * page under the base path.
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import { Hono } from 'hono';
import { secureHeaders } from 'hono/secure-headers';
import type { Logger } from 'pino';
import type { Authenticator } from './auth.js';
import { registerPage } from './assets.js';
import { apiGuard } from './guard.js';
import type { LiveHub } from './live.js';
import { httpProblem, onApiError, problemResponse, zodProblem } from './problem.js';
import { registerActionRoutes } from './routes/actions.js';
import { registerBatchRoutes } from './routes/batches.js';
import { registerCommandRoutes } from './routes/commands.js';
import { registerEventRoutes } from './routes/events.js';
import { registerJobsRoutes } from './routes/jobs.js';
import { registerLoadRoutes } from './routes/load.js';
import { registerOverviewRoutes } from './routes/overview.js';
import { registerTroubleshootingRoutes } from './routes/troubleshooting.js';
import { registerWorkerRoutes } from './routes/workers.js';
import type { ConsoleApi, ConsoleDeps, ConsoleEnv } from './types.js';

export interface ConsoleAppParams {
  deps: ConsoleDeps;
  auth: Authenticator;
  live: LiveHub;
  basePath: string;
  logger: Logger;
  /** Where the built page is; default <package>/dist/console. */
  pageDir?: string | undefined;
}

/** Only the console's own origin; inline styles because the chart library sets them. */
const CONTENT_SECURITY_POLICY = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'", "'unsafe-inline'"],
  imgSrc: ["'self'", 'data:'],
  connectSrc: ["'self'"],
  fontSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'self'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
};

export function buildConsoleApp(params: ConsoleAppParams): Hono {
  const { deps, auth, live, basePath, logger } = params;
  const api: ConsoleApi = new OpenAPIHono<ConsoleEnv>({
    defaultHook: (result) => {
      if (!result.success) return problemResponse(zodProblem(result.error, result.target));
    },
  });
  api.onError(onApiError(logger));
  api.use('*', apiGuard(auth));

  registerOverviewRoutes(api, { ...deps, authRequired: auth.required });
  registerCommandRoutes(api, deps);
  registerActionRoutes(api, deps);
  registerBatchRoutes(api, deps);
  registerWorkerRoutes(api, deps);
  registerEventRoutes(api, { ...deps, live });
  registerTroubleshootingRoutes(api, deps);
  registerLoadRoutes(api, deps);
  registerJobsRoutes(api, deps);

  api.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description:
      'DISPATCHBOX_CONSOLE_TOKEN (operator) or DISPATCHBOX_CONSOLE_VIEWER_TOKEN (viewer)',
  });
  api.openAPIRegistry.registerComponent('securitySchemes', 'basic', {
    type: 'http',
    scheme: 'basic',
    description: 'a user of DISPATCHBOX_CONSOLE_USERS',
  });
  api.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'Dispatchbox console API',
      version: '1',
      description:
        'Read and operate a Dispatchbox command bus. Errors are application/problem+json. Every method but GET needs the operator role, Content-Type: application/json and, from a browser, a same-origin Origin.',
    },
    servers: [{ url: `${basePath}/api` }],
    security: [{ bearer: [] }, { basic: [] }],
  });
  api.all('*', (c) =>
    problemResponse(
      httpProblem(
        404,
        `no such endpoint: ${c.req.method} ${c.req.path}; the API's routes are listed in ${basePath}/api/openapi.json`,
      ),
    ),
  );

  const app = new Hono();
  app.use(
    '*',
    secureHeaders({
      contentSecurityPolicy: CONTENT_SECURITY_POLICY,
      referrerPolicy: 'no-referrer',
    }),
  );
  app.onError(onApiError(logger));
  app.route(`${basePath}/api`, api);
  registerPage(app, basePath, params.pageDir);
  return app;
}
