/**
 * Reading commands: a filtered page (keyset, newest first by default), how many match a
 * filter, and one command with everything around it (audit trail, causes, what it sent,
 * its correlation and its batch).
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { CommandBus } from '../../bus/bus.js';
import type { Command } from '../../core/command.js';
import { BatchNotFoundError, CommandNotFoundError } from '../../core/errors.js';
import { AfterQuery, BatchJson, batchJson, IdParam, limitQuery } from '../api-schemas.js';
import {
  AuditJson,
  auditJson,
  CommandJson,
  commandJson,
  FilterQuery,
  problemResponses,
  toCommandFilter,
} from '../schemas.js';
import type { ConsoleApi, ConsoleDeps } from '../types.js';

/** The causation chain shown, nearest first. */
const MAX_CAUSES = 20;
/** The commands a command sent, shown with it. */
const MAX_SENT = 100;

const list = createRoute({
  method: 'get',
  path: '/commands',
  tags: ['commands'],
  summary: 'Commands matching a filter, a page at a time (keyset: pass `next` as `after`)',
  request: {
    query: FilterQuery.extend({
      limit: limitQuery(50, 500),
      order: z
        .enum(['asc', 'desc'])
        .default('desc')
        .openapi({ description: 'by id: desc (newest first, default) or asc' }),
      after: AfterQuery,
    }),
  },
  responses: {
    200: {
      description: 'a page of commands',
      content: {
        'application/json': {
          schema: z.object({
            commands: z.array(CommandJson),
            next: z
              .string()
              .nullable()
              .openapi({ description: 'the `after` of the next page; null on the last' }),
          }),
        },
      },
    },
    ...problemResponses(400, 401),
  },
});

const count = createRoute({
  method: 'get',
  path: '/commands/count',
  tags: ['commands'],
  summary: 'How many commands match a filter',
  request: { query: FilterQuery },
  responses: {
    200: {
      description: 'the count',
      content: { 'application/json': { schema: z.object({ count: z.number() }) } },
    },
    ...problemResponses(400, 401),
  },
});

const one = createRoute({
  method: 'get',
  path: '/commands/{id}',
  tags: ['commands'],
  summary: 'One command with its audit trail, causes, the commands it sent and its batch',
  request: { params: IdParam },
  responses: {
    200: {
      description: 'the command and what surrounds it',
      content: {
        'application/json': {
          schema: z
            .object({
              command: CommandJson,
              audit: z.array(AuditJson),
              causes: z
                .array(CommandJson)
                .openapi({ description: 'its causation chain, nearest first (at most 20)' }),
              sent: z
                .array(CommandJson)
                .openapi({ description: 'the commands it sent (at most 100)' }),
              correlated: z
                .number()
                .openapi({ description: 'commands with its correlation id (0 without one)' }),
              batch: BatchJson.nullable(),
            })
            .openapi('CommandDetail'),
        },
      },
    },
    ...problemResponses(401, 404),
  },
});

export function registerCommandRoutes(api: ConsoleApi, { bus }: ConsoleDeps): void {
  api.openapi(list, async (c) => {
    const { limit, order, after, ...filter } = c.req.valid('query');
    // one more than asked: whether there is a next page, without a last empty one
    const page = await bus.list({
      ...toCommandFilter(filter),
      limit: limit + 1,
      order,
      afterId: after,
    });
    const commands = page.slice(0, limit);
    const next = page.length > limit ? (commands.at(-1)?.id ?? null) : null;
    return c.json({ commands: commands.map(commandJson), next }, 200);
  });

  api.openapi(count, async (c) => {
    return c.json({ count: await bus.count(toCommandFilter(c.req.valid('query'))) }, 200);
  });

  api.openapi(one, async (c) => {
    const { id } = c.req.valid('param');
    const command = await bus.get(id);
    const [audit, causes, sent, correlated, batch] = await Promise.all([
      bus.audit(id),
      causesOf(bus, command),
      bus.list({ causationId: id, limit: MAX_SENT }),
      command.correlationId === null ? 0 : bus.count({ correlationId: command.correlationId }),
      command.batchId === null ? null : batchOrNull(bus, command.batchId),
    ]);
    return c.json(
      {
        command: commandJson(command),
        audit: audit.map(auditJson),
        causes: causes.map(commandJson),
        sent: sent.map(commandJson),
        correlated,
        batch: batch && batchJson(batch),
      },
      200,
    );
  });
}

/** The chain of commands that caused this one, nearest first; it ends where one was pruned. */
async function causesOf(bus: CommandBus, command: Command): Promise<Command[]> {
  const causes: Command[] = [];
  const seen = new Set([command.id]);
  let next = command.causationId;
  while (next !== null && causes.length < MAX_CAUSES && !seen.has(next)) {
    seen.add(next);
    try {
      const cause = await bus.get(next);
      causes.push(cause);
      next = cause.causationId;
    } catch (error) {
      if (error instanceof CommandNotFoundError) break;
      throw error;
    }
  }
  return causes;
}

async function batchOrNull(bus: CommandBus, id: string) {
  try {
    return await bus.getBatch(id);
  } catch (error) {
    if (error instanceof BatchNotFoundError) return null;
    throw error;
  }
}
