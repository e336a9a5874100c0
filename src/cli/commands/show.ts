import { Command } from 'commander';
import { formatAudit, formatCommand } from '../format.js';
import { configOf, printJson, withBus, type CliIo } from '../context.js';

export function showCommand(io: CliIo): Command {
  return new Command('show')
    .description('show one command and its audit trail')
    .argument('<id>', 'the command id')
    .option('--json', 'print { command, audit } as JSON')
    .action(async (id: string, options: { json?: boolean }, command: Command) => {
      const { found, audit } = await withBus(configOf(command, io), 'show', async (bus) => ({
        found: await bus.get(id),
        audit: await bus.audit(id),
      }));
      if (options.json) printJson(io, { command: found, audit });
      else io.out(`${formatCommand(found)}\n\n${formatAudit(audit)}`);
    });
}
