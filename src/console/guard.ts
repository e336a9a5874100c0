/**
 * The middleware in front of every /api route: who is asking (401 without valid
 * credentials), whether the role may do it (403: only operators act), and the checks
 * that keep another site from acting through a browser (CSRF: a JSON body, a same-origin
 * Origin; without credentials, a loopback Host against DNS rebinding).
 */
import type { IncomingMessage } from 'node:http';
import type { Context, MiddlewareHandler } from 'hono';
import { isLoopbackHost, type Authenticator } from './auth.js';
import { httpProblem, problemResponse } from './problem.js';
import type { ConsoleEnv, ConsoleUser } from './types.js';

const LOCAL_OPERATOR: ConsoleUser = { name: 'local', role: 'operator' };
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function apiGuard(auth: Authenticator): MiddlewareHandler<ConsoleEnv> {
  return async (c, next) => {
    const user = auth.required ? await auth.authenticate(c.req.header('authorization')) : local(c);
    if (user === 'refused') {
      return problemResponse(
        httpProblem(
          403,
          'this console has no credentials configured, so it answers only requests from this machine addressed to a loopback host (127.0.0.1, localhost); set DISPATCHBOX_CONSOLE_TOKEN to reach it otherwise',
        ),
      );
    }
    if (!user) return unauthorized(c, auth);
    c.set('user', user);
    // what a user may read is theirs: no shared cache keeps it
    c.header('cache-control', 'no-store');
    if (SAFE_METHODS.has(c.req.method)) return next();
    if (user.role !== 'operator') {
      return problemResponse(
        httpProblem(
          403,
          `${user.name} has the viewer role, which reads only; ${c.req.method} ${c.req.path} needs the operator role`,
        ),
      );
    }
    const refused = crossSite(c);
    if (refused) return problemResponse(refused);
    return next();
  };
}

/** Without credentials: the local operator, if the request is this machine's own. */
function local(c: Context): ConsoleUser | 'refused' {
  const host = c.req.header('host');
  if (host !== undefined && !isLoopbackHost(host.replace(/:\d+$/, ''))) return 'refused';
  // Known only when served by Node's http server (not when an application passes requests on).
  const remote = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming?.socket
    ?.remoteAddress;
  if (remote !== undefined && !isLoopbackHost(remote)) return 'refused';
  return LOCAL_OPERATOR;
}

function unauthorized(c: Context, auth: Authenticator): Response {
  const given = c.req.header('authorization') !== undefined;
  const how = auth.basic
    ? 'send Authorization: Bearer <DISPATCHBOX_CONSOLE_TOKEN>, or Basic with a user of DISPATCHBOX_CONSOLE_USERS'
    : 'send Authorization: Bearer <token> (DISPATCHBOX_CONSOLE_TOKEN, or DISPATCHBOX_CONSOLE_VIEWER_TOKEN to read only)';
  // Bearer never makes a browser prompt; Basic does, so it is offered only to clients that
  // are not a page's own fetch (curl, a browser's address bar), never to the console page,
  // which asks for the credentials itself.
  const challenges = ['Bearer realm="dispatchbox console"'];
  const mode = c.req.header('sec-fetch-mode');
  if (auth.basic && (mode === undefined || mode === 'navigate'))
    challenges.push('Basic realm="dispatchbox console", charset="UTF-8"');
  return problemResponse(
    httpProblem(
      401,
      given ? `the credentials were not accepted; ${how}` : `credentials are required: ${how}`,
    ),
    { 'www-authenticate': challenges.join(', ') },
  );
}

/**
 * Another site's page can make a browser send a form, but not a JSON body without asking
 * (a CORS preflight this API never grants), and the browser names that page in Origin.
 */
function crossSite(c: Context) {
  const type = c.req.header('content-type') ?? '';
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    return httpProblem(
      415,
      `${c.req.method} requests need Content-Type: application/json (a body of {} when there is nothing to say); got ${type ? JSON.stringify(type) : 'none'}`,
    );
  }
  const origin = c.req.header('origin');
  if (origin === undefined) return null;
  // Behind a proxy the request's own origin is the one the browser saw: the forwarded host.
  const host =
    c.req.header('x-forwarded-host')?.split(',')[0]?.trim() ??
    c.req.header('host') ??
    new URL(c.req.url).host;
  let originHost: string | null = null;
  try {
    originHost = new URL(origin).host;
  } catch {
    // "null" (a sandboxed page, a file) or garbage: never the console's own origin
  }
  if (originHost === host.toLowerCase()) return null;
  return httpProblem(
    403,
    `cross-site request refused: Origin ${origin} is not this console's own origin (${host})`,
  );
}
