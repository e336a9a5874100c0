/**
 * Acting on commands: send one; retry (optionally with a new payload), cancel or complete
 * one; apply an action to a selection of ids, or to everything matching a filter (as a
 * background job, once the caller confirms the count). The actor is the authenticated user.
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { CommandBus } from '../../bus/bus.js';
import type { Command } from '../../core/command.js';
import { applyToFilter } from '../bulk-actions.js';
import {
  ACTIONS,
  CancelBody,
  CompleteBody,
  IdParam,
  RetryBody,
  SendBody,
  type ActionName,
} from '../api-schemas.js';
import { problemOf, problemResponse, unconfirmedCount } from '../problem.js';
import {
  CommandJson,
  commandJson,
  FilterQuery,
  JobJson,
  problemResponses,
  ProblemJson,
  toCommandFilter,
} from '../schemas.js';
import type { ConsoleApi, ConsoleDeps } from '../types.js';

/** Most ids one selection may name; a larger set is a filter's job. */
const MAX_SELECTION = 1000;
/** Actions applied at once on a selection. */
const SELECTION_CONCURRENCY = 8;

const json = <T extends z.ZodType>(schema: T) => ({
  content: { 'application/json': { schema } },
  required: true,
});
const commandResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: z.object({ command: CommandJson }) } },
});

const send = createRoute({
  method: 'post',
  path: '/commands',
  tags: ['actions'],
  summary: 'Send a command',
  request: { body: json(SendBody) },
  responses: {
    201: commandResponse('the command sent (or the one first sent with its idempotency key)'),
    ...problemResponses(400, 401, 403),
  },
});

const single = <B extends z.ZodType>(action: ActionName, body: B, summary: string) =>
  createRoute({
    method: 'post',
    path: `/commands/{id}/${action}`,
    tags: ['actions'],
    summary,
    request: { params: IdParam, body: json(body) },
    responses: {
      200: commandResponse('the command after the action'),
      ...problemResponses(400, 401, 403, 404, 409),
    },
  });

const ActionsBody = z
  .strictObject({
    action: z.enum(ACTIONS),
    reason: z.string().min(1).max(10_000).optional(),
    result: z.unknown().optional().openapi({ description: 'the result `complete` records' }),
    ids: z
      .array(z.uuid())
      .min(1)
      .max(MAX_SELECTION)
      .optional()
      .openapi({ description: `a selection (at most ${MAX_SELECTION} ids)` }),
    filter: FilterQuery.optional().openapi({ description: 'every command matching this filter' }),
    expectedCount: z
      .number()
      .int()
      .min(0)
      .optional()
      .openapi({ description: 'with a filter: the count the caller saw and confirms' }),
  })
  .superRefine((body, ctx) => {
    if ((body.ids === undefined) === (body.filter === undefined))
      ctx.addIssue({
        code: 'custom',
        path: ['ids'],
        message:
          'give either ids (a selection) or filter (everything matching it), not both or neither',
      });
    if (body.ids !== undefined && body.expectedCount !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['expectedCount'],
        message: 'expectedCount goes with a filter, not with ids',
      });
  })
  .openapi('ActionsBody');

const actions = createRoute({
  method: 'post',
  path: '/commands/actions',
  tags: ['actions'],
  summary:
    'Apply retry, cancel or complete to a selection of ids, or to everything matching a filter',
  request: { body: json(ActionsBody) },
  responses: {
    200: {
      description: 'a selection: the ids the action applied to, and those refused with why',
      content: {
        'application/json': {
          schema: z.object({
            applied: z.array(z.string()),
            refused: z.array(
              z.object({
                id: z.string(),
                status: z.number(),
                title: z.string(),
                detail: z.string(),
              }),
            ),
          }),
        },
      },
    },
    202: {
      description: 'a confirmed filter: the background job that applies it',
      content: { 'application/json': { schema: z.object({ job: JobJson }) } },
    },
    409: {
      description:
        'a filter whose count was not confirmed (or changed): the problem carries `count`',
      content: {
        'application/problem+json': {
          schema: ProblemJson.extend({ count: z.number().optional() }),
        },
      },
    },
    ...problemResponses(400, 401, 403),
  },
});

export function registerActionRoutes(api: ConsoleApi, { bus, jobs }: ConsoleDeps): void {
  api.openapi(send, async (c) => {
    const { domain, type, data, runAt, ...options } = c.req.valid('json');
    const command = await bus.send(domain, type, data, {
      ...options,
      runAt: runAt === undefined ? undefined : new Date(runAt),
    });
    return c.json({ command: commandJson(command) }, 201);
  });

  api.openapi(
    single(
      'retry',
      RetryBody,
      'Retry a command in troubleshooting; with `data`, edit its payload first',
    ),
    async (c) => {
      const { reason, data } = c.req.valid('json');
      const command = await bus.retry(c.req.valid('param').id, {
        actor: c.get('user').name,
        reason,
        data,
      });
      return c.json({ command: commandJson(command) }, 200);
    },
  );

  api.openapi(
    single('cancel', CancelBody, 'Cancel a pending command or one in troubleshooting'),
    async (c) => {
      const { reason } = c.req.valid('json');
      const command = await bus.cancel(c.req.valid('param').id, {
        actor: c.get('user').name,
        reason,
      });
      return c.json({ command: commandJson(command) }, 200);
    },
  );

  api.openapi(
    single('complete', CompleteBody, 'Complete a command in troubleshooting, with a result'),
    async (c) => {
      const { reason, result } = c.req.valid('json');
      const command = await bus.complete(c.req.valid('param').id, result ?? null, {
        actor: c.get('user').name,
        reason,
      });
      return c.json({ command: commandJson(command) }, 200);
    },
  );

  api.openapi(actions, async (c) => {
    const body = c.req.valid('json');
    const actor = c.get('user').name;
    const act = (id: string) =>
      applyOne(bus, body.action, id, { actor, reason: body.reason, result: body.result });
    if (body.ids) return c.json(await applySelection(body.ids, act), 200);
    const filter = toCommandFilter(body.filter!);
    const count = await bus.count(filter);
    const refused = unconfirmedCount(count, body.expectedCount);
    if (refused) return problemResponse(refused) as never;
    const job = jobs.start({
      kind: 'bulk-action',
      label: `${body.action} ${count.toLocaleString('en-US')} commands matching ${describeFilter(body.filter!)}`,
      total: count,
      actor,
      run: (control) =>
        applyToFilter(
          bus,
          { action: body.action, filter, reason: body.reason, result: body.result, actor },
          control,
        ),
    });
    return c.json({ job }, 202);
  });
}

function applyOne(
  bus: CommandBus,
  action: ActionName,
  id: string,
  options: { actor: string; reason?: string | undefined; result?: unknown },
): Promise<Command> {
  const { actor, reason } = options;
  if (action === 'retry') return bus.retry(id, { actor, reason });
  if (action === 'cancel') return bus.cancel(id, { actor, reason });
  return bus.complete(id, options.result ?? null, { actor, reason });
}

/** Each id acted on (a few at once); one refused (wrong state, unknown) never stops the rest. */
async function applySelection(ids: string[], act: (id: string) => Promise<Command>) {
  const applied: string[] = [];
  const refused: { id: string; status: number; title: string; detail: string }[] = [];
  const queue = [...new Set(ids)];
  const worker = async () => {
    for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
      try {
        await act(id);
        applied.push(id);
      } catch (error) {
        const problem = problemOf(error);
        if (!problem || problem.status >= 500) throw error;
        refused.push({ id, status: problem.status, title: problem.title, detail: problem.detail });
      }
    }
  };
  await Promise.all(Array.from({ length: SELECTION_CONCURRENCY }, worker));
  return { applied, refused };
}

function describeFilter(filter: Record<string, unknown>): string {
  const parts = Object.entries(filter)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${String(v)}`);
  return parts.length > 0 ? parts.join(', ') : 'no filter (all commands)';
}
