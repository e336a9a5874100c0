/**
 * The console's background jobs (bulk actions over a filter, loads): listed, one read,
 * one cancelled. Their progress also goes out live on /api/events as `job` events.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { HTTPException } from 'hono/http-exception';
import { JobJson, problemResponses } from '../schemas.js';
import type { ConsoleApi, ConsoleDeps, JobRunner, JobSnapshot } from '../types.js';

const JobParam = z.object({
  id: z
    .string()
    .min(1)
    .max(100)
    .openapi({ param: { name: 'id', in: 'path' }, description: 'the job id' }),
});

const jobResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: JobJson } },
});

const list = createRoute({
  method: 'get',
  path: '/jobs',
  tags: ['jobs'],
  summary: 'The background jobs: running ones first, then the latest 50 finished, newest first',
  responses: {
    200: {
      description: 'the jobs',
      content: { 'application/json': { schema: z.object({ jobs: z.array(JobJson) }) } },
    },
    ...problemResponses(401),
  },
});

const one = createRoute({
  method: 'get',
  path: '/jobs/{id}',
  tags: ['jobs'],
  summary: 'One background job, with its progress',
  request: { params: JobParam },
  responses: { 200: jobResponse('the job'), ...problemResponses(401, 404) },
});

const cancel = createRoute({
  method: 'post',
  path: '/jobs/{id}/cancel',
  tags: ['jobs'],
  summary:
    'Ask a running job to stop (after the chunk under way); a finished one is returned as it is',
  request: { params: JobParam },
  responses: {
    200: jobResponse('the job; it shows `cancelled` once it has stopped'),
    ...problemResponses(401, 403, 404),
  },
});

/** Registers the /api routes of this module on `api`. */
export function registerJobsRoutes(api: ConsoleApi, { jobs }: ConsoleDeps): void {
  api.openapi(list, (c) => c.json({ jobs: jobs.list() }, 200));
  api.openapi(one, (c) => c.json(jobOf(jobs, c.req.valid('param').id), 200));
  api.openapi(cancel, (c) => {
    const { id } = c.req.valid('param');
    jobs.cancel(id);
    return c.json(jobOf(jobs, id), 200);
  });
}

function jobOf(jobs: JobRunner, id: string): JobSnapshot {
  const job = jobs.get(id);
  if (!job) {
    throw new HTTPException(404, {
      message: `no job ${id}: the console keeps the running jobs and the latest 50 finished (GET /api/jobs lists them)`,
    });
  }
  return job;
}
