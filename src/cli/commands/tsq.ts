import { Command } from 'commander';
import type { Command as DispatchboxCommand } from '../../core/command.js';
import type { CommandBus, OperatorOptions } from '../../bus/bus.js';
import { ValidationError } from '../../core/errors.js';
import { OPERATOR_RULES, type OperatorAction } from '../../core/lifecycle.js';
import { bulkAct, describeFilter, type BulkAction } from '../bulk.js';
import { configOf, parseJsonArgument, printJson, withBus, type CliIo } from '../context.js';
import {
  addFilterOptions,
  DEFAULT_LIST_LIMIT,
  filterOf,
  formatListing,
  limitOf,
  listWithTotal,
} from '../filters.js';

/** The troubleshooting queue: what could not succeed, waiting for an operator. */
export function tsqCommand(io: CliIo): Command {
  const tsq = new Command('tsq').description(
    'the troubleshooting queue: list, retry, cancel, complete',
  );

  addFilterOptions(tsq.command('list').description('list commands in troubleshooting'))
    .option('--limit <n>', `at most this many (default ${DEFAULT_LIST_LIMIT})`)
    .option('--json', 'print the commands as JSON')
    .action(async (options: Record<string, unknown>, command: Command) => {
      const filter = { ...filterOf(options), state: 'troubleshooting' as const };
      const limit = limitOf(options);
      const { commands, total } = await withBus(configOf(command, io), 'tsq list', (bus) =>
        listWithTotal(bus, filter, limit),
      );
      if (options['json']) printJson(io, commands);
      else io.out(formatListing(commands, total));
    });

  bulkCapable(io, tsq, 'retry', `${ruleText('retry')} (attempts reset)`);
  bulkCapable(io, tsq, 'cancel', ruleText('cancel'));

  const complete = tsq
    .command('complete')
    .description(`${ruleText('complete')}, with an optional JSON result`)
    .argument('<id>', 'the command id')
    .argument('[json-result]', 'the result to record, as JSON (default null)');
  addOperatorOptions(complete, io).action(
    async (id: string, result: string | undefined, options: ActOptions, command: Command) => {
      const updated = await withBus(configOf(command, io), 'tsq complete', (bus) =>
        bus.complete(
          id,
          parseJsonArgument(result, 'the json-result argument'),
          operatorOf(options),
        ),
      );
      printOne(io, 'completed', updated, options.json);
    },
  );
  return tsq;
}

interface ActOptions {
  actor: string;
  reason?: string;
  json?: boolean;
  yes?: boolean;
  all?: boolean;
}

/** `tsq retry|cancel <id>`, or every troubleshooting command a filter (or --all) picks. */
function bulkCapable(io: CliIo, parent: Command, name: BulkAction, description: string): void {
  const sub = parent
    .command(name)
    .description(`${description}: one by id, or all that a filter picks (with --yes)`)
    .argument('[id]', 'the command id; leave it out to act on a filter instead');
  addFilterOptions(sub)
    .option('--all', 'every command in troubleshooting')
    .option('--yes', 'act on everything the filter picks; without it, only say how many');
  if (name === 'retry')
    sub.option(
      '--data <json>',
      'edit then retry: the new payload, as JSON, replacing the old one (both are kept in the audit trail)',
    );
  addOperatorOptions(sub, io).action(
    async (
      id: string | undefined,
      options: ActOptions & Record<string, unknown>,
      command: Command,
    ) => {
      const filter = { ...filterOf(options), state: 'troubleshooting' as const };
      const filtered = Boolean(filter.domain || filter.type || filter.errorCode);
      if (id !== undefined && (filtered || options.all)) {
        throw new ValidationError(
          `tsq ${name} takes a command id or a filter (--all, --domain, --type, --error-code), not both`,
        );
      }
      const dataText = options['data'] as string | undefined;
      if (dataText !== undefined && id === undefined) {
        throw new ValidationError(
          'tsq retry --data edits one command: give its id (a filter retries many, unedited)',
          'data',
        );
      }
      if (id !== undefined) {
        // parsed before connecting: bad JSON changes nothing
        const data =
          dataText === undefined ? undefined : parseJsonArgument(dataText, 'the --data payload');
        const act = (bus: CommandBus) =>
          name === 'retry'
            ? bus.retry(id, { ...operatorOf(options), data })
            : bus.cancel(id, operatorOf(options));
        const updated = await withBus(configOf(command, io), `tsq ${name}`, act);
        printOne(io, name === 'retry' ? 'retried' : 'cancelled', updated, options.json);
        return;
      }
      if (!filtered && !options.all) {
        throw new ValidationError(
          `tsq ${name} needs a command id, or --domain, --type, --error-code or --all to act on many`,
        );
      }
      if (filtered && options.all) {
        throw new ValidationError(
          `--all means every troubleshooting command; leave it out to act on --domain, --type or --error-code`,
        );
      }
      const outcome = await withBus(configOf(command, io), `tsq ${name}`, (bus) =>
        bulkAct(bus, name, filter, operatorOf(options), options.yes === true),
      );
      const what = describeFilter(filter);
      if (outcome.matched === 0) {
        io.out(`no troubleshooting commands ${what}: nothing to ${name}`);
        return;
      }
      if (!outcome.confirmed) {
        throw new ValidationError(
          `${outcome.matched} troubleshooting command${outcome.matched === 1 ? '' : 's'} ${what} would be ${name === 'retry' ? 'retried' : 'cancelled'}; nothing was changed: run again with --yes to do it`,
        );
      }
      if (options.json) {
        printJson(io, outcome);
        return;
      }
      const done = name === 'retry' ? 'retried' : 'cancelled';
      const skipped = outcome.skipped.length
        ? `; ${outcome.skipped.length} had left troubleshooting meanwhile and were left alone`
        : '';
      io.out(
        `${done} ${outcome.acted.length} of ${outcome.matched} troubleshooting commands ${what}${skipped}`,
      );
    },
  );
}

/** "move pending or troubleshooting commands to cancelled", from the lifecycle table. */
function ruleText(action: OperatorAction): string {
  const rule = OPERATOR_RULES[action];
  return `move ${rule.from.join(' or ')} commands to ${rule.to}`;
}

function addOperatorOptions(sub: Command, io: CliIo): Command {
  return sub
    .option('--actor <name>', 'who acts, recorded in the audit trail', defaultActor(io))
    .option('--reason <text>', 'why, recorded in the audit trail')
    .option('--json', 'print the outcome as JSON');
}

function operatorOf(options: ActOptions): OperatorOptions {
  return { actor: options.actor, reason: options.reason };
}

function printOne(io: CliIo, done: string, updated: DispatchboxCommand, json?: boolean): void {
  if (json) printJson(io, updated);
  else io.out(`${done} ${updated.id}: now ${updated.state}`);
}

function defaultActor(io: CliIo): string {
  return io.env['USER'] ?? io.env['USERNAME'] ?? 'operator';
}
