import { Command } from 'commander';
import { toMillis } from '../../core/duration.js';
import { ValidationError } from '../../core/errors.js';
import { checkHeaders } from '../../core/headers.js';
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
    .option(
      '--header <name=value>',
      'a header carried with the command (repeat for more), e.g. --header tenant=acme',
      (text: string, given: string[]) => [...given, text],
      [] as string[],
    )
    .option('--json', 'print the stored command as JSON')
    .action(
      async (
        domain: string,
        type: string,
        payload: string | undefined,
        options: Record<string, string | undefined> & { header: string[] },
        command: Command,
      ) => {
        const data = parseJsonArgument(payload, 'the payload argument');
        const headers = parseHeaderFlags(options.header);
        const sendOptions = {
          priority: parseWholeFlag(options['priority'], 'priority'),
          maxAttempts: parseWholeFlag(options['maxAttempts'], 'max-attempts'),
          delay: parseDelayFlag(options['delay']),
          id: options['id'],
          idempotencyKey: options['idempotencyKey'],
          headers,
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

/**
 * Each `--header name=value` (split at the first '='), checked as a send checks headers,
 * before the store is opened. Undefined when none was given.
 */
function parseHeaderFlags(flags: string[]): Record<string, string> | undefined {
  if (flags.length === 0) return undefined;
  const entries = flags.map((flag): [string, string] => {
    const at = flag.indexOf('=');
    if (at <= 0) {
      throw new ValidationError(
        `--header must be name=value, e.g. --header tenant=acme; got ${JSON.stringify(flag)}`,
        'headers',
      );
    }
    return [flag.slice(0, at), flag.slice(at + 1)];
  });
  const names = new Set<string>();
  for (const [name] of entries) {
    if (names.has(name)) {
      throw new ValidationError(`--header ${name} is given twice; give it once`, 'headers');
    }
    names.add(name);
  }
  return checkHeaders(Object.fromEntries(entries)) ?? undefined;
}

/** The longest --delay the CLI takes: a later run is almost surely a typo of the unit. */
const MAX_DELAY_MS = 10 * 365 * 24 * 3600 * 1000;

/** `--delay` in milliseconds; a mistake is one line that says what the flag takes. */
function parseDelayFlag(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const wrong = () =>
    new ValidationError(
      `--delay must be a duration such as '500ms', '30s', '5m', '2h' or '1d' (at most 10 years), or a number of milliseconds; got ${JSON.stringify(text)}`,
      'delay',
    );
  let millis: number;
  try {
    millis = toMillis(text.trim(), 'delay');
  } catch {
    throw wrong();
  }
  if (millis > MAX_DELAY_MS) throw wrong();
  return millis;
}
