import { Command } from 'commander';
import { loadConsoleConfig, toConsoleOptions } from '../../config/index.js';
import { checkConsoleOptions, hashPassword, parseConsoleUsers } from '../../console/index.js';
import { ConfigurationError } from '../../core/errors.js';
import { serveConsole } from '../console-server.js';
import { configOf, withBus, type CliIo } from '../context.js';
import { waitForStopSignal } from '../signals.js';

/** The flags of the console's settings (src/config/console.ts); secrets come only from variables. */
export function addConsoleOptions(command: Command): Command {
  return command
    .option(
      '--console-port <port>',
      'serve the console on this port, 0 for a free one (DISPATCHBOX_CONSOLE_PORT, default 3000)',
    )
    .option(
      '--console-host <host>',
      'listen on this address (DISPATCHBOX_CONSOLE_HOST, default 127.0.0.1)',
    )
    .option(
      '--console-base-path <path>',
      "serve it under this path, e.g. '/ops/console' (DISPATCHBOX_CONSOLE_BASE_PATH)",
    );
}

/** `dispatchbox console`: the operator console standalone; `console hash-password` for its users. */
export function consoleCommand(io: CliIo): Command {
  const command = addConsoleOptions(
    new Command('console').description(
      'serve the operator console (the page and its HTTP API) until SIGTERM or Ctrl-C; /health, /ready and /metrics on the same port',
    ),
  ).action(async (options: Record<string, unknown>, command: Command) => {
    const config = configOf(command, io);
    const consoleConfig = loadConsoleConfig({ env: io.env, flags: options });
    // refused (no credentials beyond loopback, a bad base path) before the store opens
    checkConsoleOptions(toConsoleOptions(consoleConfig));
    await withBus(config, 'console', async (bus) => {
      const served = await serveConsole(bus, consoleConfig, { metrics: true });
      io.out(`console: ${served.url} (stop with Ctrl-C or SIGTERM)`);
      const signal = await waitForStopSignal();
      io.out(`${signal}: stopping the console`);
      await served.close();
      io.out('console stopped');
    });
  });
  command.addCommand(
    new Command('hash-password')
      .description(
        'read a password from stdin and print its scrypt hash for DISPATCHBOX_CONSOLE_USERS (name:role:hash)',
      )
      .option('--user <name>', 'print the whole entry, name:role:hash, for this user')
      .option('--role <role>', 'operator or viewer (with --user), default operator')
      .action(async (options: { user?: string; role?: string }) => {
        const password = (await readStdin()).replace(/\r?\n$/, '');
        if (password.length === 0)
          throw new ConfigurationError(
            'no password on stdin: pipe one in, e.g. printf %s "$PASSWORD" | dispatchbox console hash-password',
          );
        const role = options.role ?? 'operator';
        if (role !== 'operator' && role !== 'viewer')
          throw new ConfigurationError(
            `--role must be operator or viewer; got ${JSON.stringify(role)}`,
          );
        const hash = await hashPassword(password);
        if (options.user === undefined) return io.out(hash);
        // the entry checked as the console will read it (the name's characters)
        const [entry] = parseConsoleUsers(`${options.user}:${role}:${hash}`, '--user');
        io.out(`${entry!.name}:${entry!.role}:${entry!.passwordHash}`);
      }),
  );
  return command;
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('password (then Enter and Ctrl-D): ');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
