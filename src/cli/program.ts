import { Command, CommanderError } from 'commander';
import { ConfigurationError, DispatchboxError, ValidationError } from '../core/errors.js';
import { processIo, type CliIo } from './context.js';
import { batchCommand } from './commands/batch.js';
import { migrateCommand } from './commands/migrate.js';
import { sendCommand } from './commands/send.js';
import { showCommand } from './commands/show.js';
import { startCommand } from './commands/start.js';
import { tsqCommand } from './commands/tsq.js';
import { workerCommand } from './commands/worker.js';

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
    .showHelpAfterError()
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
    tsqCommand(io),
    batchCommand(io),
  ]) {
    program.addCommand(sub);
  }
  // Subcommands of subcommands (tsq list, batch show) report errors the same way.
  const inherit = (c: Command) => {
    c.exitOverride().configureOutput({
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
    if (error instanceof CommanderError) return error.exitCode;
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
