/**
 * The load generator: the expected outcomes of a load (the demo model, load-model.ts),
 * and sending one as a background job whose progress the page follows.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { ValidationError } from '../../core/errors.js';
import { checkLoadOn, generateLoad } from '../load-generator.js';
import {
  DEMO_MAX_ATTEMPTS,
  DEMO_MAX_MS,
  expectedOutcomes,
  loadProblem,
  MAX_LOAD_COUNT,
} from '../load-model.js';
import { JobJson, problemResponses } from '../schemas.js';
import type { ConsoleApi, ConsoleDeps } from '../types.js';

const pct = (what: string) =>
  z
    .number()
    .min(0)
    .max(100)
    .openapi({ description: `% of attempts that ${what}` });
const ms = (what: string) =>
  z
    .number()
    .int()
    .min(0)
    .max(DEMO_MAX_MS)
    .openapi({ description: `${what} (ms)` });

const LoadFields = {
  count: z
    .number()
    .int()
    .min(1)
    .max(MAX_LOAD_COUNT)
    .openapi({ description: 'demo commands to send' }),
  permanentPct: pct('fail permanently'),
  transientPct: pct('fail transiently'),
  timeoutPct: pct('hang until the timeout'),
  minMs: ms('the shortest work of a successful attempt'),
  maxMs: ms('the longest work of a successful attempt'),
};

/** A number of the query string, checked as the body's is. */
const fromQuery = <T extends z.ZodType<unknown, number>>(schema: T) =>
  z.coerce.number().pipe(schema);

const EstimateQuery = z.object({
  count: fromQuery(LoadFields.count),
  permanentPct: fromQuery(LoadFields.permanentPct),
  transientPct: fromQuery(LoadFields.transientPct),
  timeoutPct: fromQuery(LoadFields.timeoutPct),
  minMs: fromQuery(LoadFields.minMs),
  maxMs: fromQuery(LoadFields.maxMs),
  maxAttempts: fromQuery(z.number().int().min(1).max(100))
    .optional()
    .openapi({ description: `attempts per command (the demo handlers': ${DEMO_MAX_ATTEMPTS})` }),
});

const LoadBody = z
  .strictObject({
    ...LoadFields,
    domain: z
      .string()
      .min(1)
      .max(128)
      .optional()
      .openapi({ description: "where the commands go (default 'demo', the demo handlers')" }),
  })
  .openapi('LoadBody');

const ExpectedJson = z
  .object({
    completed: z.number(),
    troubleshooting: z.number(),
    troubleshootingPermanent: z.number(),
    troubleshootingExhausted: z.number(),
    attempts: z.number(),
    retries: z.number(),
    timeouts: z.number(),
    meanAttemptMs: z.number(),
  })
  .openapi('ExpectedOutcomes');

const estimate = createRoute({
  method: 'get',
  path: '/load/estimate',
  tags: ['load'],
  summary: 'The expected outcomes of a load of demo commands, before sending it',
  request: { query: EstimateQuery },
  responses: {
    200: {
      description: 'expected values (fractions of a command kept)',
      content: { 'application/json': { schema: z.object({ expected: ExpectedJson }) } },
    },
    ...problemResponses(400, 401),
  },
});

const send = createRoute({
  method: 'post',
  path: '/load',
  tags: ['load'],
  summary: 'Send a load of demo commands, as one batch, in a background job',
  request: { body: { content: { 'application/json': { schema: LoadBody } }, required: true } },
  responses: {
    202: {
      description: 'the job sending the load (its result: the batch id) and the expected outcomes',
      content: {
        'application/json': { schema: z.object({ job: JobJson, expected: ExpectedJson }) },
      },
    },
    ...problemResponses(400, 401, 403),
  },
});

/** Registers the /api routes of this module on `api`. */
export function registerLoadRoutes(api: ConsoleApi, { bus, jobs }: ConsoleDeps): void {
  api.openapi(estimate, (c) => {
    const query = c.req.valid('query');
    const problem = loadProblem(query);
    if (problem) throw new ValidationError(problem.message, problem.field);
    return c.json({ expected: expectedOutcomes(query) }, 200);
  });

  api.openapi(send, (c) => {
    const load = checkLoadOn(bus, c.req.valid('json'));
    const job = jobs.start({
      kind: 'load',
      label: `send ${load.count.toLocaleString('en-US')} demo commands to ${load.domain}`,
      total: load.count,
      actor: c.get('user').name,
      run: async (control) => {
        const batch = await generateLoad(
          bus,
          { ...load.odds, count: load.count, domain: load.domain },
          control,
        );
        return { batchId: batch.id };
      },
    });
    return c.json({ job, expected: expectedOutcomes({ ...load.odds, count: load.count }) }, 202);
  });
}
