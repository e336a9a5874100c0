/**
 * /api/events: Server-Sent Events. `counts` every poll interval (the overview's numbers),
 * `job` whenever a background job changes, `command` when one of the commands named in
 * ?commands= changes, and a comment line every 15 s so proxies keep the stream open.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { streamSSE } from 'hono/streaming';
import type { LiveHub } from '../live.js';
import { problemResponses } from '../schemas.js';
import type { ConsoleApi, ConsoleDeps } from '../types.js';

const PING_MS = 15_000;
const MAX_WATCHED = 200;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const events = createRoute({
  method: 'get',
  path: '/events',
  tags: ['live'],
  summary: 'Live updates as Server-Sent Events: counts, job and command events',
  description:
    'Events: `counts` ({at, counts, totals, oldestPending}) every second; `job` (a Job) when a background job changes; `command` (a Command) when one of the commands named in `commands` changes. A comment line every 15 s.',
  request: {
    query: z.object({
      commands: z
        .string()
        .max(MAX_WATCHED * 37)
        .optional()
        .openapi({ description: `comma-separated command ids to watch (at most ${MAX_WATCHED})` })
        .transform((text, ctx) => {
          const ids = (text ?? '')
            .split(',')
            .map((s) => s.trim())
            .filter((s) => s.length > 0);
          const bad = ids.find((id) => !UUID.test(id));
          if (bad !== undefined)
            ctx.addIssue({
              code: 'custom',
              message: `${JSON.stringify(bad.slice(0, 40))} is not a command id (a UUID)`,
            });
          if (ids.length > MAX_WATCHED)
            ctx.addIssue({
              code: 'custom',
              message: `at most ${MAX_WATCHED} ids; got ${ids.length}`,
            });
          return [...new Set(ids.map((id) => id.toLowerCase()))];
        }),
    }),
  },
  responses: {
    200: {
      description: 'the event stream',
      content: { 'text/event-stream': { schema: z.string() } },
    },
    ...problemResponses(400, 401),
  },
});

export function registerEventRoutes(api: ConsoleApi, deps: ConsoleDeps & { live: LiveHub }): void {
  api.openapi(events, (c) => {
    const ids = c.req.valid('query').commands;
    return streamSSE(c, async (stream) => {
      let ended!: () => void;
      const done = new Promise<void>((resolve) => (ended = resolve));
      stream.onAbort(() => ended());
      // A client that reads slowly misses counts (each one replaces the last) but no job
      // or command event.
      let countsPending = false;
      const send = (event: string, data: string) =>
        stream.writeSSE({ event, data }).catch(() => ended());
      const unsubscribe = await deps.live.subscribe(
        {
          counts: (json) => {
            if (countsPending) return;
            countsPending = true;
            void send('counts', json).finally(() => (countsPending = false));
          },
          command: (json) => void send('command', json),
          end: () => ended(),
        },
        ids,
      );
      const offJobs = deps.jobs.onChange((job) => void send('job', JSON.stringify(job)));
      const ping = setInterval(() => void stream.write(': ping\n\n').catch(() => ended()), PING_MS);
      try {
        await done;
      } finally {
        clearInterval(ping);
        offJobs();
        unsubscribe();
      }
    });
  });
}
