/** /api/workers: the worker registry, each worker alive, stale or stopped. */
import { createRoute, z } from '@hono/zod-openapi';
import { WorkerJson, workerJson } from '../api-schemas.js';
import { problemResponses } from '../schemas.js';
import type { ConsoleApi, ConsoleDeps } from '../types.js';

const list = createRoute({
  method: 'get',
  path: '/workers',
  tags: ['workers'],
  summary: 'The workers recorded in the store, oldest start first',
  responses: {
    200: {
      description: 'the workers',
      content: { 'application/json': { schema: z.object({ workers: z.array(WorkerJson) }) } },
    },
    ...problemResponses(401),
  },
});

export function registerWorkerRoutes(api: ConsoleApi, { bus }: ConsoleDeps): void {
  api.openapi(list, async (c) => c.json({ workers: (await bus.workers()).map(workerJson) }, 200));
}
