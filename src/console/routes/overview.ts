/** /api/me, /api/overview and /api/throughput: who is asking, and how the bus is doing. */
import { createRoute, z } from '@hono/zod-openapi';
import { SAMPLE_BUCKET_MS } from '../../backends/roles/samples.js';
import { LiveCountsJson } from '../api-schemas.js';
import { readLiveCounts } from '../counts.js';
import { problemResponses } from '../schemas.js';
import type { ConsoleApi, ConsoleDeps } from '../types.js';

const UserJson = z
  .object({ name: z.string(), role: z.enum(['viewer', 'operator']) })
  .openapi('User');

const me = createRoute({
  method: 'get',
  path: '/me',
  tags: ['overview'],
  summary: 'The authenticated user and whether the console asks for credentials',
  responses: {
    200: {
      description: 'the user',
      content: {
        'application/json': {
          schema: z.object({ user: UserJson, authRequired: z.boolean() }),
        },
      },
    },
    ...problemResponses(401),
  },
});

const overview = createRoute({
  method: 'get',
  path: '/overview',
  tags: ['overview'],
  summary: 'Counts by domain, type and state; the oldest due command per domain; workers',
  responses: {
    200: {
      description: 'the overview',
      content: {
        'application/json': {
          schema: LiveCountsJson.extend({
            workers: z.object({ alive: z.number(), stale: z.number(), stopped: z.number() }),
          }).openapi('Overview'),
        },
      },
    },
    ...problemResponses(401),
  },
});

const SampleJson = z
  .object({
    at: z.string(),
    domain: z.string(),
    completed: z.number(),
    failed: z.number(),
    retried: z.number(),
    troubleshooting: z.number(),
  })
  .openapi('ThroughputSample');

const throughput = createRoute({
  method: 'get',
  path: '/throughput',
  tags: ['overview'],
  summary:
    'Attempts ended per domain and 10-second bucket (completed, failed, retried, troubleshooting)',
  request: {
    query: z.object({
      minutes: z.coerce
        .number()
        .int()
        .min(1)
        .max(10_080)
        .default(60)
        .openapi({ type: 'integer', description: 'how far back, 1 to 10080 (a week); default 60' }),
      domain: z.string().min(1).max(128).optional().openapi({ description: 'one domain only' }),
    }),
  },
  responses: {
    200: {
      description: 'the samples, oldest first',
      content: {
        'application/json': {
          schema: z.object({ bucketMs: z.number(), samples: z.array(SampleJson) }),
        },
      },
    },
    ...problemResponses(400, 401),
  },
});

export function registerOverviewRoutes(
  api: ConsoleApi,
  deps: ConsoleDeps & { authRequired: boolean },
): void {
  const { bus } = deps;
  api.openapi(me, (c) => c.json({ user: c.get('user'), authRequired: deps.authRequired }, 200));

  api.openapi(overview, async (c) => {
    const [live, workers] = await Promise.all([readLiveCounts(bus), bus.workers()]);
    const summary = { alive: 0, stale: 0, stopped: 0 };
    for (const w of workers) summary[w.status]++;
    return c.json({ ...live, workers: summary }, 200);
  });

  api.openapi(throughput, async (c) => {
    const { minutes, domain } = c.req.valid('query');
    const since = new Date(Date.now() - minutes * 60_000);
    const samples = await bus.throughput(since, domain);
    return c.json(
      {
        bucketMs: SAMPLE_BUCKET_MS,
        samples: samples.map((s) => ({ ...s, at: s.at.toISOString() })),
      },
      200,
    );
  });
}
