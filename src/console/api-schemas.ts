/**
 * The zod schemas of the API-core routes beside the shared ones (schemas.ts): batches,
 * workers, the overview, paging and the operator actions' bodies. The OpenAPI document is
 * generated from these.
 */
import { z } from '@hono/zod-openapi';
import type { BatchInfo } from '../backends/roles/batches.js';
import type { WorkerEntry } from '../backends/worker-registry.js';
import { COMMAND_STATES } from '../core/states.js';

export const IdParam = z.object({
  id: z
    .string()
    .min(1)
    .max(100)
    .openapi({ param: { name: 'id', in: 'path' }, description: 'a UUID' }),
});

/** A page size from the query: whole, from 1 to `max`. */
export const limitQuery = (fallback: number, max: number) =>
  z.coerce
    .number({ error: `must be a whole number from 1 to ${max}` })
    .int({ error: `must be a whole number from 1 to ${max}` })
    .min(1, { error: `must be a whole number from 1 to ${max}` })
    .max(max, { error: `must be a whole number from 1 to ${max}` })
    .default(fallback)
    .openapi({
      description: `at most this many (1 to ${max}, default ${fallback})`,
      type: 'integer',
    });

export const AfterQuery = z
  .uuid()
  .optional()
  .openapi({ description: 'the last id of the previous page' });

export const BatchJson = z
  .object({
    id: z.string(),
    name: z.string().nullable(),
    status: z.enum(['pending', 'in_progress', 'completed', 'completed_with_failures']),
    counts: z.object({
      total: z.number(),
      pending: z.number(),
      inProgress: z.number(),
      completed: z.number(),
      cancelled: z.number(),
      troubleshooting: z.number(),
      failed: z.number(),
    }),
    createdAt: z.string(),
    finishedAt: z.string().nullable(),
    completionCommandId: z.string().nullable(),
  })
  .openapi('Batch');

export function batchJson(b: BatchInfo): z.infer<typeof BatchJson> {
  return {
    ...b,
    createdAt: b.createdAt.toISOString(),
    finishedAt: b.finishedAt?.toISOString() ?? null,
  };
}

export const WorkerJson = z
  .object({
    id: z.string(),
    host: z.string(),
    pid: z.number(),
    domains: z.array(z.string()),
    types: z.array(z.string()).nullable(),
    concurrency: z.number(),
    startedAt: z.string(),
    counters: z.record(z.string(), z.number()),
    version: z.string(),
    status: z.enum(['alive', 'stale', 'stopped']),
    lastSeenAt: z.string(),
    silentMs: z.number(),
    staleAfterMs: z.number(),
    stoppedAt: z.string().nullable(),
  })
  .openapi('Worker');

export function workerJson(w: WorkerEntry): z.infer<typeof WorkerJson> {
  return {
    ...w,
    startedAt: w.startedAt.toISOString(),
    lastSeenAt: w.lastSeenAt.toISOString(),
    stoppedAt: w.stoppedAt?.toISOString() ?? null,
  };
}

export const CountJson = z
  .object({
    domain: z.string(),
    type: z.string(),
    state: z.enum(COMMAND_STATES),
    count: z.number(),
  })
  .openapi('Count');

export const TotalsJson = z
  .object(
    Object.fromEntries(COMMAND_STATES.map((s) => [s, z.number()])) as Record<
      (typeof COMMAND_STATES)[number],
      z.ZodNumber
    >,
  )
  .openapi('Totals');

export const OldestPendingJson = z
  .object({ domain: z.string(), runAt: z.string(), ageSeconds: z.number() })
  .openapi('OldestPending');

/** What /api/overview and the SSE `counts` event share. */
export const LiveCountsJson = z.object({
  counts: z.array(CountJson),
  totals: TotalsJson,
  oldestPending: z.array(OldestPendingJson),
});

const reason = z
  .string()
  .min(1)
  .max(10_000)
  .optional()
  .openapi({ description: 'why, for the audit trail' });
const anyJson = z.unknown().openapi({ description: 'any JSON value' });

export const RetryBody = z
  .strictObject({
    reason,
    data: anyJson.optional().openapi({ description: "edit then retry: the command's new payload" }),
  })
  .openapi('RetryBody');
export const CancelBody = z.strictObject({ reason }).openapi('CancelBody');
export const CompleteBody = z
  .strictObject({
    reason,
    result: anyJson.optional().openapi({ description: 'the result to record' }),
  })
  .openapi('CompleteBody');

export const ACTIONS = ['retry', 'cancel', 'complete'] as const;
export type ActionName = (typeof ACTIONS)[number];

export const SendBody = z
  .strictObject({
    domain: z.string().min(1).max(128),
    type: z.string().min(1).max(128),
    data: anyJson.refine(
      (v) => v !== undefined,
      'data is required: any JSON value (null for none)',
    ),
    priority: z.number().int().min(0).max(1_000_000).optional(),
    delay: z
      .union([z.number().int().min(0), z.string().min(1).max(50)])
      .optional()
      .openapi({ description: "run no sooner than this: milliseconds, or text such as '5m'" }),
    runAt: z.iso
      .datetime({ offset: true })
      .optional()
      .openapi({ description: 'run no sooner than this time (ISO 8601)' }),
    idempotencyKey: z.string().min(1).max(255).optional(),
    correlationId: z.string().min(1).max(255).optional(),
    maxAttempts: z.number().int().min(1).max(1000).optional(),
    headers: z.record(z.string(), z.string()).optional(),
  })
  .openapi('SendBody');
