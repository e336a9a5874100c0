import type { Command as CommanderCommand } from 'commander';
import ms from 'ms';
import type { CommandFilter } from '../bus/bus.js';
import { ValidationError } from '../core/errors.js';
import { isUuid } from '../core/ids.js';
import { filterOf } from './filters.js';

/**
 * The filters `dispatchbox list` adds to the common ones (filters.ts): a batch, a
 * correlation, the commands a command sent, a creation time range and payload text.
 */
export function addListFilterOptions(command: CommanderCommand): CommanderCommand {
  return command
    .option('--batch <id>', 'only commands of this batch')
    .option('--correlation-id <id>', 'only commands with this correlation id')
    .option('--caused-by <id>', 'only commands sent by this command (their causation id)')
    .option(
      '--since <time>',
      'only commands created at or after this time: ISO 8601 (2026-01-31T09:00Z) or a duration ago (15m, 2h, 7d)',
    )
    .option('--until <time>', 'only commands created before this time (as --since)')
    .option('--text <text>', "only commands whose payload's JSON text contains this, any case");
}

/** The filter of `dispatchbox list`: the common flags and the listing's own, checked. */
export function listFilterOf(options: Record<string, unknown>, now = Date.now()): CommandFilter {
  const filter: CommandFilter = {
    ...filterOf(options),
    batchId: idFlag(options['batch'], 'batch'),
    correlationId: textFlag(options['correlationId'], 'correlation-id'),
    causationId: idFlag(options['causedBy'], 'caused-by'),
    createdAfter: timeFlag(options['since'], 'since', now),
    createdBefore: timeFlag(options['until'], 'until', now),
    text: textFlag(options['text'], 'text'),
  };
  if (filter.createdAfter && filter.createdBefore && filter.createdAfter >= filter.createdBefore)
    throw new ValidationError(
      `--since (${filter.createdAfter.toISOString()}) must be before --until (${filter.createdBefore.toISOString()})`,
      'since',
    );
  return filter;
}

function textFlag(value: unknown, flag: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '')
    throw new ValidationError(`--${flag} must not be empty; leave it out to list them all`, flag);
  return value;
}

function idFlag(value: unknown, flag: string): string | undefined {
  const text = textFlag(value, flag);
  if (text !== undefined && !isUuid(text))
    throw new ValidationError(
      `--${flag} must be an id (a UUID such as 0190a1b2-…); got ${JSON.stringify(text)}`,
      flag,
    );
  return text?.toLowerCase();
}

/** An ISO 8601 time, or a duration (`15m`, `2h`, `7d`) meaning that long before `now`. */
function timeFlag(value: unknown, flag: string, now: number): Date | undefined {
  const text = textFlag(value, flag);
  if (text === undefined) return undefined;
  const ago = /^\d/.test(text) && !text.includes('-') ? ms(text as ms.StringValue) : undefined;
  if (typeof ago === 'number' && Number.isFinite(ago) && ago >= 0) return new Date(now - ago);
  const at = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(at))
    throw new ValidationError(
      `--${flag} must be an ISO 8601 time such as 2026-01-31T09:00:00Z, or a duration ago such as 15m, 2h, 7d; got ${JSON.stringify(text)}`,
      flag,
    );
  return new Date(at);
}
