/**
 * The troubleshooting queue grouped by error fingerprint (fingerprint.ts), largest group
 * first, and a bulk action on one group: confirmed by its count (`expectedCount`), then
 * run as a background job.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { BULK_ACTIONS } from '../bulk-actions.js';
import { applyToGroup, countGroup, groupTroubleshooting } from '../fingerprint.js';
import { classProblem } from '../problem.js';
import { JobJson, ProblemJson, problemResponses } from '../schemas.js';
import type { ConsoleApi, ConsoleDeps } from '../types.js';

const name = (what: string) => z.string().min(1).max(128).openapi({ description: what });

const GroupsQuery = z.object({
  domain: name('only this domain').optional(),
  type: name('only this command type').optional(),
});

const GroupJson = z
  .object({
    fingerprint: z.string().openapi({ description: 'a hash of the code and the masked message' }),
    code: z.string(),
    message: z.string().openapi({ description: 'the error message, ids and numbers masked' }),
    count: z.number(),
    domains: z.array(z.string()),
    types: z.array(z.string()),
    oldestAt: z.string(),
    newestAt: z.string(),
    sampleId: z.string().openapi({ description: 'the latest command of the group' }),
  })
  .openapi('TroubleshootingGroup');

const FingerprintParam = z.object({
  fingerprint: z
    .string()
    .regex(
      /^[0-9a-f]{12}$/,
      'a fingerprint is 12 hexadecimal digits (from GET /troubleshooting/groups)',
    )
    .openapi({ param: { name: 'fingerprint', in: 'path' } }),
});

const GroupActionBody = z
  .strictObject({
    action: z.enum(BULK_ACTIONS),
    reason: z.string().min(1).max(10_000).optional(),
    result: z.unknown().optional().openapi({ description: 'the result `complete` records' }),
    expectedCount: z.number().int().min(0).optional().openapi({
      description:
        'the group count the caller confirms; without it, or when the group has changed, 409 tells the count',
    }),
    domain: name('act only on the group in this domain (as listed with ?domain=)').optional(),
    type: name('act only on the group of this type (as listed with ?type=)').optional(),
  })
  .openapi('GroupActionBody');

/** The 409 of an unconfirmed count: its `count` is what to send back as expectedCount. */
const CountProblemJson = ProblemJson.extend({ count: z.number() }).openapi('CountProblem');

const groups = createRoute({
  method: 'get',
  path: '/troubleshooting/groups',
  tags: ['troubleshooting'],
  summary: 'The troubleshooting queue grouped by error fingerprint, largest group first',
  request: { query: GroupsQuery },
  responses: {
    200: {
      description: 'the groups; `truncated` when the queue had more commands than were read',
      content: {
        'application/json': {
          schema: z.object({
            groups: z.array(GroupJson),
            scanned: z.number(),
            truncated: z.boolean(),
          }),
        },
      },
    },
    ...problemResponses(400, 401),
  },
});

const groupAction = createRoute({
  method: 'post',
  path: '/troubleshooting/groups/{fingerprint}/actions',
  tags: ['troubleshooting'],
  summary: 'Retry, cancel or complete every command of a group, as a background job',
  request: {
    params: FingerprintParam,
    body: { content: { 'application/json': { schema: GroupActionBody } }, required: true },
  },
  responses: {
    202: {
      description: 'the job applying the action',
      content: { 'application/json': { schema: z.object({ job: JobJson }) } },
    },
    ...problemResponses(400, 401, 403),
    409: {
      description: 'expectedCount left out, or not the group count any more: `count` tells it',
      content: { 'application/problem+json': { schema: CountProblemJson } },
    },
  },
});

/** Registers the /api routes of this module on `api`. */
export function registerTroubleshootingRoutes(api: ConsoleApi, { bus, jobs }: ConsoleDeps): void {
  api.openapi(groups, async (c) => {
    const found = await groupTroubleshooting(bus, c.req.valid('query'));
    return c.json(
      {
        ...found,
        groups: found.groups.map((g) => ({
          ...g,
          oldestAt: g.oldestAt.toISOString(),
          newestAt: g.newestAt.toISOString(),
        })),
      },
      200,
    );
  });

  api.openapi(groupAction, async (c) => {
    const { fingerprint } = c.req.valid('param');
    const body = c.req.valid('json');
    const actor = c.get('user').name;
    const scope = { fingerprint, domain: body.domain, type: body.type };
    const count = await countGroup(bus, scope);
    if (body.expectedCount !== count) {
      return c.json(unconfirmed(count, body.expectedCount), 409, {
        'Content-Type': 'application/problem+json',
      });
    }
    const job = jobs.start({
      kind: 'bulk-action',
      label: `${body.action} ${count.toLocaleString('en-US')} troubleshooting commands of group ${fingerprint}`,
      total: count,
      actor,
      run: (control) =>
        applyToGroup(
          bus,
          { ...scope, action: body.action, reason: body.reason, result: body.result, actor },
          control,
        ),
    });
    return c.json({ job }, 202);
  });
}

/** The problem that asks to confirm the group's count (the same as a filter action's). */
function unconfirmed(count: number, expectedCount: number | undefined) {
  const detail =
    expectedCount === undefined
      ? `this group has ${count} commands; confirm by sending the request again with expectedCount: ${count}`
      : `this group has ${count} commands now, not ${expectedCount}; check it and send expectedCount: ${count} to go ahead`;
  return classProblem('CountNotConfirmed', 409, detail, {
    count,
    field: 'expectedCount',
  }) as z.infer<typeof CountProblemJson>;
}
