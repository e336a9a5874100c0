/**
 * The zod schemas the API's routes share: the command filter of the query string, a
 * command, an audit record, a batch and a job as JSON, and the problem+json error. The
 * OpenAPI document (/api/openapi.json) is generated from these same schemas.
 */
import { z } from '@hono/zod-openapi';
import type { CommandFilter } from '../bus/bus.js';
import type { AuditRecord, Command } from '../core/command.js';
import { COMMAND_STATES } from '../core/states.js';

const text = (what: string) => z.string().min(1).max(500).openapi({ description: what });

const time = (what: string) =>
  z.iso.datetime({ offset: true }).openapi({ description: `${what} (ISO 8601, with a zone)` });

/** The command filter, as query parameters; every field narrows it. */
export const FilterQuery = z.object({
  state: z.enum(COMMAND_STATES).optional().openapi({ description: 'the command state' }),
  domain: text('the domain').optional(),
  type: text('the command type').optional(),
  errorCode: text("the code of the command's last error").optional(),
  batchId: z.uuid().optional().openapi({ description: 'commands of this batch' }),
  correlationId: text('commands with this correlation id').optional(),
  causationId: z.uuid().optional().openapi({ description: 'the commands this command sent' }),
  createdAfter: time('created at or after').optional(),
  createdBefore: time('created before').optional(),
  text: text('the payload, as JSON text, contains this (ignoring case)').optional(),
});
export type FilterQuery = z.infer<typeof FilterQuery>;

/** The bus's filter from the query's (times parsed). */
export function toCommandFilter(query: FilterQuery): CommandFilter {
  return {
    ...query,
    createdAfter: query.createdAfter ? new Date(query.createdAfter) : undefined,
    createdBefore: query.createdBefore ? new Date(query.createdBefore) : undefined,
  };
}

const Json = z.unknown().openapi({ description: 'any JSON value' });

export const CommandErrorJson = z
  .object({ code: z.string(), message: z.string(), details: Json.optional() })
  .openapi('CommandError');

export const CommandJson = z
  .object({
    id: z.string(),
    domain: z.string(),
    type: z.string(),
    data: Json,
    state: z.enum(COMMAND_STATES),
    priority: z.number(),
    attempts: z.number(),
    maxAttempts: z.number().nullable(),
    runAt: z.string(),
    createdAt: z.string(),
    updatedAt: z.string(),
    correlationId: z.string().nullable(),
    causationId: z.string().nullable(),
    batchId: z.string().nullable(),
    idempotencyKey: z.string().nullable(),
    headers: z.record(z.string(), z.string()),
    lastError: CommandErrorJson.nullable(),
    result: Json,
    workerId: z.string().nullable(),
    leaseExpiresAt: z.string().nullable(),
  })
  .openapi('Command');
export type CommandJson = z.infer<typeof CommandJson>;

/** A command as the API sends it: times as ISO text. */
export function commandJson(c: Command): CommandJson {
  return {
    ...c,
    runAt: c.runAt.toISOString(),
    createdAt: c.createdAt.toISOString(),
    updatedAt: c.updatedAt.toISOString(),
    leaseExpiresAt: c.leaseExpiresAt?.toISOString() ?? null,
  };
}

export const AuditJson = z
  .object({
    commandId: z.string(),
    at: z.string(),
    fromState: z.enum(COMMAND_STATES).nullable(),
    toState: z.enum(COMMAND_STATES),
    attempt: z.number(),
    workerId: z.string().nullable(),
    actor: z.string().nullable(),
    reason: z.string().nullable(),
    error: CommandErrorJson.nullable(),
    details: z.object({ dataBefore: Json.optional(), dataAfter: Json.optional() }).nullable(),
  })
  .openapi('AuditRecord');

export function auditJson(r: AuditRecord): z.infer<typeof AuditJson> {
  return { ...r, at: r.at.toISOString(), details: r.details ?? null };
}

export const JobJson = z
  .object({
    id: z.string(),
    kind: z.enum(['bulk-action', 'load']),
    label: z.string(),
    state: z.enum(['running', 'done', 'failed', 'cancelled']),
    total: z.number(),
    done: z.number(),
    failed: z.number(),
    actor: z.string(),
    startedAt: z.string(),
    finishedAt: z.string().nullable(),
    error: z.string().nullable(),
    result: Json,
  })
  .openapi('Job');

/** RFC 9457 problem details: every error the API returns. */
export const ProblemJson = z
  .object({
    type: z
      .string()
      .openapi({ description: 'the error class, as a URI (about:blank for HTTP ones)' }),
    title: z
      .string()
      .openapi({ description: 'the error class: ValidationError, InvalidStateError, …' }),
    status: z.number(),
    detail: z.string().openapi({ description: 'what was wrong and how to fix it' }),
    field: z.string().optional().openapi({ description: 'the input at fault, when one is' }),
  })
  .openapi('Problem');

/** The responses every route may give besides its own: as problem+json. */
export function problemResponses(...statuses: (400 | 401 | 403 | 404 | 409 | 422)[]) {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      {
        description: PROBLEM_DESCRIPTIONS[status],
        content: { 'application/problem+json': { schema: ProblemJson } },
      },
    ]),
  );
}

const PROBLEM_DESCRIPTIONS = {
  400: 'bad input: the problem names the field and what it must be',
  401: 'no credentials, or wrong ones',
  403: 'the read-only role may not act',
  404: 'no such command, batch or job',
  409: "the command's state does not allow the action, or the filter's count changed",
  422: 'the input is well-formed but refused (a payload the handler schema rejects)',
} as const;
