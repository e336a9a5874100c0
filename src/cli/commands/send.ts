import { Command } from 'commander';
import {
  configOf,
  parseJsonArgument,
  parseWholeFlag,
  printJson,
  withBus,
  type CliIo,
} from '../context.js';

export function sendCommand(io: CliIo): Command {
  return new Command('send')
    .description('send one command; prints its id')
    .argument('<domain>', 'the command domain, e.g. billing')
    .argument('<type>', 'the command type, e.g. charge-card')
    .argument('[json]', 'the payload as JSON (default null)')
    .option('--priority <n>', 'higher runs first, 0 to 1000000')
    .option('--delay <duration>', "run no sooner than this from now, e.g. '30s', '5m'")
    .option('--id <uuid>', 'a caller-chosen id; sending it again returns the existing command')
    .option(
      '--idempotency-key <key>',
      'a duplicate send with this key (per domain) returns the first command',
    )
    .option('--max-attempts <n>', 'attempts before the command goes to troubleshooting')
    .option('--json', 'print the stored command as JSON')
    .action(
      async (
        domain: string,
        type: string,
        payload: string | undefined,
        options: Record<string, string | undefined>,
        command: Command,
      ) => {
        const data = parseJsonArgument(payload, 'the payload argument');
        const sendOptions = {
          priority: parseWholeFlag(options['priority'], 'priority'),
          maxAttempts: parseWholeFlag(options['maxAttempts'], 'max-attempts'),
          delay: options['delay'],
          id: options['id'],
          idempotencyKey: options['idempotencyKey'],
        };
        const defined = Object.fromEntries(
          Object.entries(sendOptions).filter(([, v]) => v !== undefined),
        );
        const config = configOf(command, io);
        const sent = await withBus(config, 'send', (bus) => bus.send(domain, type, data, defined));
        if (options['json']) printJson(io, sent);
        else io.out(`sent ${sent.domain}/${sent.type} ${sent.id} (${sent.state})`);
      },
    );
}
