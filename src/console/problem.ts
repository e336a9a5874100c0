/**
 * Errors as the API sends them: RFC 9457 problem+json, titled with the library's error
 * class (ValidationError, InvalidStateError, ...) or, for HTTP's own errors (auth, an
 * unknown path), with the HTTP reason phrase and the type about:blank.
 */
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Logger } from 'pino';
import type { ZodError } from 'zod';
import {
  BatchNotFoundError,
  CommandNotFoundError,
  DispatchboxError,
  InvalidStateError,
  PayloadTooLargeError,
  StoreError,
  ValidationError,
} from '../core/errors.js';
import { logFailure } from '../core/log-safely.js';
import { redactSecrets } from '../core/redact.js';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  field?: string;
  /** Extra members some problems carry (the count a filter action must confirm). */
  [member: string]: unknown;
}

const HTTP_TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** A problem of HTTP itself (auth, a path or a media type): type about:blank. */
export function httpProblem(status: number, detail: string): Problem {
  return { type: 'about:blank', title: HTTP_TITLES[status] ?? 'Error', status, detail };
}

/** A problem named after an error class of the library (or of the console). */
export function classProblem(
  title: string,
  status: number,
  detail: string,
  extra: Record<string, unknown> = {},
): Problem {
  return { type: `urn:dispatchbox:error:${title}`, title, status, detail, ...extra };
}

/** Sends `problem` as application/problem+json with its status. */
export function problemResponse(problem: Problem, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(problem), {
    status: problem.status,
    headers: { 'content-type': 'application/problem+json', ...headers },
  });
}

/**
 * The problem for an error a route threw: the library's errors by class (their messages
 * say what to fix); anything else is a 500 whose detail tells nothing of the internals.
 * Null for an error the API does not expect (logged by the caller).
 */
export function problemOf(error: unknown): Problem | null {
  if (error instanceof PayloadTooLargeError)
    return classProblem('PayloadTooLargeError', 413, error.message, fieldOf(error));
  if (error instanceof ValidationError)
    return classProblem(error.constructor.name, 400, error.message, fieldOf(error));
  if (error instanceof CommandNotFoundError || error instanceof BatchNotFoundError)
    return classProblem(error.constructor.name, 404, error.message);
  if (error instanceof InvalidStateError)
    return classProblem('InvalidStateError', 409, error.message);
  if (error instanceof StoreError)
    return classProblem('StoreError', 503, redactSecrets(error.message));
  if (error instanceof HTTPException) return httpProblem(error.status, error.message);
  if (error instanceof DispatchboxError)
    return classProblem(error.constructor.name, 500, redactSecrets(error.message));
  return null;
}

function fieldOf(error: ValidationError): { field?: string } {
  return error.path === null ? {} : { field: error.path };
}

/** The API's onError: a problem for every error; the unexpected ones are logged. */
export function onApiError(logger: Logger) {
  return (error: Error, c: Context): Response => {
    const problem = problemOf(error);
    if (problem && problem.status < 500) return problemResponse(problem);
    logFailure(
      logger,
      'error',
      { path: c.req.path, method: c.req.method },
      error,
      'console API request failed',
    );
    return problemResponse(
      problem ??
        classProblem(
          'InternalError',
          500,
          `${c.req.method} ${c.req.path} failed; the console's log has the error`,
        ),
    );
  };
}

/**
 * A zod failure of a request's input as a 400 ValidationError naming the field: the
 * first issue's path in the input (`limit`, `data`, `ids.3`), and every issue said.
 */
export function zodProblem(error: ZodError, target: string): Problem {
  const issues = error.issues.slice(0, 5);
  const described = issues.map((issue) => {
    const path = issue.path.map(String).join('.');
    return path ? `${path}: ${issue.message}` : issue.message;
  });
  const firstIssue = issues[0];
  // an unknown key (a typo) is the field at fault, not the object holding it
  const unknownKey = firstIssue?.code === 'unrecognized_keys' ? firstIssue.keys[0] : undefined;
  const first =
    [...(firstIssue?.path.map(String) ?? []), ...(unknownKey ? [unknownKey] : [])].join('.') ||
    undefined;
  const where =
    target === 'json' ? 'the JSON body' : target === 'param' ? 'the path' : `the ${target}`;
  return classProblem(
    'ValidationError',
    400,
    `bad input in ${where}: ${described.join('; ')}`,
    first ? { field: first } : {},
  );
}

/** The status to send a problem with, typed for Hono. */
export function statusOf(problem: Problem): ContentfulStatusCode {
  return problem.status as ContentfulStatusCode;
}

/**
 * An action on everything matching a filter runs only once the caller has seen how many
 * commands that is and sends the same number back as `expectedCount`: null when it did,
 * else the 409 problem that tells the count (also as the `count` member).
 */
export function unconfirmedCount(count: number, expectedCount: number | undefined): Problem | null {
  if (expectedCount === count) return null;
  const detail =
    expectedCount === undefined
      ? `this filter matches ${count} commands; confirm by sending the request again with expectedCount: ${count}`
      : `this filter matches ${count} commands now, not ${expectedCount}; check the filter and send expectedCount: ${count} to go ahead`;
  return classProblem('CountNotConfirmed', 409, detail, { count, field: 'expectedCount' });
}
