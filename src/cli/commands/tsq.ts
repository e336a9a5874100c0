import { Command } from 'commander';
import type { Command as DispatchboxCommand } from '../../core/command.js';
import type { CommandBus, OperatorOptions } from '../../bus/bus.js';
import { formatCommandList } from '../format.js';
import {
  configOf,
  parseJsonArgument,
  parseWholeFlag,
  printJson,
  withBus,
  type CliIo,
} from '../context.js';

/** The troubleshooting queue: what could not succeed, waiting for an operator. */
export function tsqCommand(io: CliIo): Command {
  const tsq = new Command('tsq').description(
    'the troubleshooting queue: list, retry, cancel, complete',
  );

  tsq
    .command('list')
    .description('list commands in troubleshooting')
    .option('--domain <domain>', 'only this domain')
    .option('--type <type>', 'only this command type')
    .option('--error-code <code>', 'only commands whose last error has this code')
    .option('--limit <n>', 'at most this many (default 100)')
    .option('--json', 'print the commands as JSON')
    .action(async (options: Record<string, string | boolean | undefined>, command: Command) => {
      const filter = {
        domain: options['domain'] as string | undefined,
        type: options['type'] as string | undefined,
        errorCode: options['errorCode'] as string | undefined,
        limit: parseWholeFlag(options['limit'] as string | undefined, 'limit') ?? 100,
      };
      const found = await withBus(configOf(command, io), 'tsq list', (bus) =>
        bus.listTroubleshooting(filter),
      );
      if (options['json']) printJson(io, found);
      else io.out(formatCommandList(found));
    });

  operatorAction(
    io,
    tsq,
    'retry',
    'move a command from troubleshooting back to pending (attempts reset)',
    (bus, id, _, o) => bus.retry(id, o),
  );
  operatorAction(
    io,
    tsq,
    'cancel',
    'cancel a pending or troubleshooting command',
    (bus, id, _, o) => bus.cancel(id, o),
  );
  operatorAction(
    io,
    tsq,
    'complete',
    'mark a troubleshooting command completed, with an optional JSON result',
    (bus, id, result, o) =>
      bus.complete(id, parseJsonArgument(result, 'the json-result argument'), o),
  );
  return tsq;
}

function operatorAction(
  io: CliIo,
  parent: Command,
  name: 'retry' | 'cancel' | 'complete',
  description: string,
  act: (
    bus: CommandBus,
    id: string,
    result: string | undefined,
    options: OperatorOptions,
  ) => Promise<DispatchboxCommand>,
): void {
  const sub = parent.command(name).description(description).argument('<id>', 'the command id');
  if (name === 'complete')
    sub.argument('[json-result]', 'the result to record, as JSON (default null)');
  sub
    .option('--actor <name>', 'who acts, recorded in the audit trail', defaultActor(io))
    .option('--reason <text>', 'why, recorded in the audit trail')
    .option('--json', 'print the command as JSON')
    .action(async (...args: unknown[]) => {
      const command = args.at(-1) as Command;
      const options = args.at(-2) as { actor: string; reason?: string; json?: boolean };
      const id = args[0] as string;
      const result = name === 'complete' ? (args[1] as string | undefined) : undefined;
      const updated = await withBus(configOf(command, io), `tsq ${name}`, (bus) =>
        act(bus, id, result, { actor: options.actor, reason: options.reason }),
      );
      if (options.json) printJson(io, updated);
      else
        io.out(
          `${name === 'retry' ? 'retried' : name === 'cancel' ? 'cancelled' : 'completed'} ${updated.id}: now ${updated.state}`,
        );
    });
}

function defaultActor(io: CliIo): string {
  return io.env['USER'] ?? io.env['USERNAME'] ?? 'operator';
}
