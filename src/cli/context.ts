import type { Command as CommanderCommand } from 'commander';
import type { CommandBus } from '../bus/bus.js';
import {
  CLI_LOG_LEVEL,
  createLogger,
  loadConfig,
  toCreateOptions,
  type DispatchboxConfig,
} from '../config/index.js';
import { ValidationError } from '../core/errors.js';
import { createDispatchbox } from '../create.js';

/** Where a CLI run reads its environment and writes its output; a test passes its own. */
export interface CliIo {
  env: Record<string, string | undefined>;
  out(text: string): void;
  err(text: string): void;
  isTTY: boolean;
}

export const processIo: CliIo = {
  env: process.env,
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
  isTTY: Boolean(process.stdout.isTTY),
};

/** The configuration from DISPATCHBOX_* variables and this command's flags (and its parents'). */
export function configOf(command: CommanderCommand, io: CliIo): DispatchboxConfig {
  return loadConfig({ env: io.env, flags: command.optsWithGlobals() });
}

/**
 * Opens the store named by the configuration, runs `fn` with a bus on it and closes it
 * again. The embedded database is locked while it is open (backends/pglite/lock.ts).
 */
export async function withBus<T>(
  config: DispatchboxConfig,
  what: string,
  fn: (bus: CommandBus) => Promise<T>,
  overrides: { migrate?: boolean; logLevel?: DispatchboxConfig['logLevel'] } = {},
): Promise<T> {
  // The CLI and the container log routine events (info); the library is quieter.
  const logger = createLogger(
    overrides.logLevel ?? config.logLevel ?? CLI_LOG_LEVEL,
    config.logFormat,
  );
  const bus = await createDispatchbox({
    ...toCreateOptions(config, logger),
    ...(overrides.migrate === undefined ? {} : { migrate: overrides.migrate }),
  });
  try {
    return await fn(bus);
  } finally {
    await bus.close();
  }
}

/** Parses a JSON argument; a mistake names the argument. */
export function parseJsonArgument(text: string | undefined, name: string): unknown {
  if (text === undefined) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new ValidationError(
      `${name} is not valid JSON (${(error as Error).message}); quote it for the shell, e.g. '{"orderId": 42}'`,
      name,
    );
  }
}

/** Parses a whole-number flag; the bus checks the range. */
export function parseWholeFlag(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text.trim()))
    throw new ValidationError(
      `--${flag} must be a whole number; got ${JSON.stringify(text)}`,
      flag,
    );
  return Number(text);
}

export function printJson(io: CliIo, value: unknown): void {
  io.out(JSON.stringify(value, null, 2));
}
