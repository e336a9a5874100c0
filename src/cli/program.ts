import { relayCommand, streamsCommand } from './commands/streams.js';
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { ConfigurationError, DispatchboxError, ValidationError } from '../core/errors.js';
import { processIo, type CliIo } from './context.js';
import { batchCommand } from './commands/batch.js';
import { consoleCommand } from './commands/console.js';
import { listCommand } from './commands/list.js';
import { migrateCommand } from './commands/migrate.js';
import { sendCommand } from './commands/send.js';
import { showCommand } from './commands/show.js';
import { startCommand } from './commands/start.js';
import { tsqCommand } from './commands/tsq.js';
import { workerCommand } from './commands/worker.js';
import { workersCommand } from './commands/workers.js';

/** The `dispatchbox` command. Store flags are global; worker flags belong to worker and start. */
export function buildProgram(io: CliIo): Command {
  const program = new Command('dispatchbox')
    .description(
      'Dispatchbox: a reliable command bus. Configure with DISPATCHBOX_* variables or the flags below.',
    )
    .option(
      '--database-url <url>',
      'postgres://… for PostgreSQL; unset for the embedded database (DISPATCHBOX_DATABASE_URL)',
    )
    .option(
      '--data-dir <dir>',
      'the embedded database directory, default ./.dispatchbox (DISPATCHBOX_DATA_DIR)',
    )
    .option('--schema <name>', 'the SQL schema, default dispatchbox (DISPATCHBOX_SCHEMA)')
    .option(
      '--log-level <level>',
      'fatal, error, warn, info, debug, trace or silent (DISPATCHBOX_LOG_LEVEL)',
    )
    .option(
      '--log-format <format>',
      'json, pretty, or auto: pretty when stderr is a terminal (DISPATCHBOX_LOG_FORMAT)',
    )
    .version(packageVersion(), '-V, --version', 'print the version and exit')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.out(s.trimEnd()),
      writeErr: (s) => io.err(s.trimEnd()),
    });
  for (const sub of [
    startCommand(io),
    workerCommand(io),
    sendCommand(io),
    migrateCommand(io),
    showCommand(io),
    listCommand(io),
    tsqCommand(io),
    batchCommand(io),
    workersCommand(io),
    consoleCommand(io),
    streamsCommand(io),
    relayCommand(io),
  ]) {
    program.addCommand(sub);
  }
  // Subcommands of subcommands (tsq list, batch show) report errors the same way.
  const inherit = (c: Command) => {
    c.exitOverride()
      .showHelpAfterError('(add --help for usage)')
      .configureOutput({
        writeOut: (s) => io.out(s.trimEnd()),
        writeErr: (s) => io.err(s.trimEnd()),
      });
    c.commands.forEach(inherit);
  };
  program.commands.forEach(inherit);
  return program;
}

/**
 * Runs the CLI and resolves to the exit code. A DispatchboxError is one line on stderr
 * (its message says what to fix); anything else is a bug and shows its stack.
 */
export async function runCli(argv: string[], io: CliIo = processIo): Promise<number> {
  try {
    await buildProgram(io).parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return exitCodeOf(error);
    if (error instanceof DispatchboxError) {
      io.err(`dispatchbox: ${error.message.split('\n').join('\ndispatchbox: ')}`);
      return error instanceof ConfigurationError || error instanceof ValidationError ? 2 : 1;
    }
    io.err(
      `dispatchbox: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    return 1;
  }
}

/** Commander's own outcomes: help and --version succeed; every usage mistake is bad input (2). */
function exitCodeOf(error: CommanderError): number {
  if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return 0;
  // `dispatchbox tsq` without a subcommand prints the subcommands: a usage mistake too.
  return error.exitCode === 0 ? 0 : 2;
}

/** The installed package's version: package.json sits two levels above src/cli and dist/cli. */
function packageVersion(): string {
  const url = new URL('../../package.json', import.meta.url);
  return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
}
