import { Command } from 'commander';
import { formatBatch } from '../format.js';
import { configOf, printJson, withBus, type CliIo } from '../context.js';

export function batchCommand(io: CliIo): Command {
  const batch = new Command('batch').description('batches of commands');
  batch
    .command('show')
    .description("show a batch's status and its commands' counts by state")
    .argument('<id>', 'the batch id')
    .option('--json', 'print the batch as JSON')
    .action(async (id: string, options: { json?: boolean }, command: Command) => {
      const info = await withBus(configOf(command, io), 'batch show', (bus) => bus.getBatch(id));
      if (options.json) printJson(io, info);
      else io.out(formatBatch(info));
    });
  return batch;
}
