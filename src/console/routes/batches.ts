/** /api/batches: batches newest first with their progress, and one batch. */
import { createRoute, z } from '@hono/zod-openapi';
import { AfterQuery, BatchJson, batchJson, IdParam, limitQuery } from '../api-schemas.js';
import { problemResponses } from '../schemas.js';
import type { ConsoleApi, ConsoleDeps } from '../types.js';

const list = createRoute({
  method: 'get',
  path: '/batches',
  tags: ['batches'],
  summary: 'Batches newest first, with the counts of their commands by state',
  request: { query: z.object({ limit: limitQuery(20, 200), after: AfterQuery }) },
  responses: {
    200: {
      description: 'a page of batches',
      content: {
        'application/json': {
          schema: z.object({ batches: z.array(BatchJson), next: z.string().nullable() }),
        },
      },
    },
    ...problemResponses(400, 401),
  },
});

const one = createRoute({
  method: 'get',
  path: '/batches/{id}',
  tags: ['batches'],
  summary: 'One batch',
  request: { params: IdParam },
  responses: {
    200: { description: 'the batch', content: { 'application/json': { schema: BatchJson } } },
    ...problemResponses(401, 404),
  },
});

export function registerBatchRoutes(api: ConsoleApi, { bus }: ConsoleDeps): void {
  api.openapi(list, async (c) => {
    const { limit, after } = c.req.valid('query');
    const page = await bus.listBatches({ limit: limit + 1, afterId: after });
    const batches = page.slice(0, limit);
    const next = page.length > limit ? (batches.at(-1)?.id ?? null) : null;
    return c.json({ batches: batches.map(batchJson), next }, 200);
  });

  api.openapi(one, async (c) =>
    c.json(batchJson(await bus.getBatch(c.req.valid('param').id)), 200),
  );
}
