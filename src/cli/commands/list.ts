import { Command } from 'commander';
import { COMMAND_STATES } from '../../core/states.js';
import { configOf, printJson, withBus, type CliIo } from '../context.js';
import {
  addFilterOptions,
  DEFAULT_LIST_LIMIT,
  formatListing,
  limitOf,
  listWithTotal,
} from '../filters.js';
import { addListFilterOptions, listFilterOf } from '../list-filters.js';

/** `dispatchbox list`: commands in any state, by the same filters as `tsq list`. */
export function listCommand(io: CliIo): Command {
  const list = new Command('list')
    .description('list commands in any state, oldest first')
    .option('--state <state>', `only this state: ${COMMAND_STATES.join(', ')}`);
  addListFilterOptions(addFilterOptions(list))
    .option('--newest-first', 'the newest commands first')
    .option('--limit <n>', `at most this many (default ${DEFAULT_LIST_LIMIT})`)
    .option('--json', 'print the commands as JSON')
    .action(async (options: Record<string, unknown>, command: Command) => {
      const filter = listFilterOf(options);
      const limit = limitOf(options);
      const order = options['newestFirst'] ? 'desc' : 'asc';
      const { commands, total } = await withBus(configOf(command, io), 'list', (bus) =>
        listWithTotal(bus, filter, limit, order),
      );
      if (options['json']) printJson(io, commands);
      else io.out(formatListing(commands, total, filter.state === undefined));
    });
  return list;
}
