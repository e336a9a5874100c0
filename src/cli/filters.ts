import type { Command as CommanderCommand } from 'commander';
import type { CommandBus, CommandFilter } from '../bus/bus.js';
import type { Command } from '../core/command.js';
import { ValidationError } from '../core/errors.js';
import { COMMAND_STATES, isCommandState } from '../core/states.js';
import { formatCommandList } from './format.js';
import { parseWholeFlag } from './context.js';

/** Rows a listing shows unless `--limit` says otherwise. */
export const DEFAULT_LIST_LIMIT = 100;
/** The most rows one listing prints: a larger view is a job for --json and paging. */
const MAX_LIST_LIMIT = 10_000;

/** Adds `--domain`, `--type` and `--error-code`, the filters of every listing and bulk action. */
export function addFilterOptions(command: CommanderCommand): CommanderCommand {
  return command
    .option('--domain <domain>', 'only this domain')
    .option('--type <type>', 'only this command type')
    .option('--error-code <code>', 'only commands whose last error has this code');
}

/** The filter named by the flags; `--state` is checked against the states there are. */
export function filterOf(options: Record<string, unknown>): CommandFilter {
  const state = options['state'] as string | undefined;
  if (state !== undefined && !isCommandState(state)) {
    throw new ValidationError(
      `--state must be one of ${COMMAND_STATES.join(', ')}; got ${JSON.stringify(state)}`,
      'state',
    );
  }
  return {
    state,
    domain: options['domain'] as string | undefined,
    type: options['type'] as string | undefined,
    errorCode: options['errorCode'] as string | undefined,
  };
}

export function limitOf(options: Record<string, unknown>): number {
  const limit = parseWholeFlag(options['limit'] as string | undefined, 'limit');
  if (limit === undefined) return DEFAULT_LIST_LIMIT;
  if (limit < 1 || limit > MAX_LIST_LIMIT) {
    throw new ValidationError(`--limit must be from 1 to ${MAX_LIST_LIMIT}; got ${limit}`, 'limit');
  }
  return limit;
}

/** Up to `limit` matching commands, oldest (or newest) first, and how many match in all. */
export async function listWithTotal(
  bus: CommandBus,
  filter: CommandFilter,
  limit: number,
  order: 'asc' | 'desc' = 'asc',
): Promise<{ commands: Command[]; total: number }> {
  const commands = await bus.list({ ...filter, limit, order });
  // Only a full page can have been cut; anything shorter is the whole answer.
  const total = commands.length < limit ? commands.length : await bus.count(filter);
  return { commands, total: Math.max(total, commands.length) };
}

/** The table, and a last line saying how many were left out when the listing was cut. */
export function formatListing(commands: Command[], total: number, withState = false): string {
  const table = formatCommandList(commands, withState);
  if (total <= commands.length) return table;
  return `${table}\n${commands.length} of ${total} shown; raise --limit or narrow the filter to see the rest`;
}
