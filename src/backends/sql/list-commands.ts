import { ValidationError } from '../../core/errors.js';
import { isUuid } from '../../core/ids.js';
import { COMMAND_STATES, isCommandState } from '../../core/states.js';
import type { ListCommandsParams } from '../backend.js';

const MIN_UUID = '00000000-0000-0000-0000-000000000000';
const MAX_UUID = 'ffffffff-ffff-ffff-ffff-ffffffffffff';

/** A listing's statement and its values, or null when no command can match. */
export type ListStatement = { text: string; values: unknown[] } | null;

/**
 * The statement of one page of AdminQueries.listCommands. Every filter is an equality or
 * a range the indexes of migrations 1 and 11 answer in id order (docs/operations.md,
 * Listing at scale, names which index serves which filter); the payload text is a check
 * on the rows the others leave.
 *
 * The text is found with strpos on the lower-cased JSON text rather than ILIKE: a plain
 * substring, so `%` and `_` in it are themselves, with nothing to escape.
 */
export function listCommandsStatement(t: string, params: ListCommandsParams): ListStatement {
  const { afterId } = params;
  if (afterId !== undefined && !isUuid(afterId))
    throw new ValidationError(
      `afterId must be a command id (a UUID), got ${JSON.stringify(afterId)}: pass the last id of the previous page`,
      'afterId',
    );
  // The id columns are uuid: another text names no command, and PostgreSQL would refuse it.
  for (const id of [params.batchId, params.causationId]) if (id && !isUuid(id)) return null;
  const desc = params.order === 'desc';
  const where: string[] = [];
  const values: unknown[] = [];
  const add = (clause: string, value: unknown) => {
    values.push(value);
    where.push(clause.replace('?', `$${values.length}`));
  };
  // A literal, not a parameter: statements are prepared, and a generic plan can use a
  // partial index on the state only when the state is written in the statement.
  if (params.state) {
    if (!isCommandState(params.state))
      throw new ValidationError(
        `state must be one of ${COMMAND_STATES.join(', ')}, got ${JSON.stringify(params.state)}`,
        'state',
      );
    where.push(`state = '${params.state}'`);
  }
  if (params.domain) add('domain = ?', params.domain);
  if (params.type) add('type = ?', params.type);
  if (params.errorCode) add(`last_error->>'code' = ?`, params.errorCode);
  if (params.batchId) {
    add('batch_id = ?::uuid', params.batchId);
    // The batch's range of ids (migration 11) makes it a range read of the primary key.
    const n = `$${values.length}`;
    where.push(
      `id >= coalesce((SELECT first_command_id FROM ${t}.batches WHERE id = ${n}::uuid), '${MIN_UUID}')`,
      `id <= coalesce((SELECT last_command_id FROM ${t}.batches WHERE id = ${n}::uuid), '${MAX_UUID}')`,
    );
  }
  const correlation = params.correlationId;
  if (correlation) add('correlation_id = ?', correlation);
  const correlationAt = `$${values.length}`;
  if (params.causationId) add('causation_id = ?::uuid', params.causationId);
  if (params.createdAfter) add('created_at >= ?', params.createdAfter);
  if (params.createdBefore) add('created_at < ?', params.createdBefore);
  if (params.text) add('strpos(lower(data::text), ?) > 0', params.text.toLowerCase());
  if (afterId) add(desc ? 'id < ?::uuid' : 'id > ?::uuid', afterId);
  values.push(params.limit);
  const order = `ORDER BY id ${desc ? 'DESC' : 'ASC'} LIMIT $${values.length}`;
  const select = (more: string[]) => {
    const all = [...where, ...more];
    return `SELECT * FROM ${t}.commands ${all.length ? `WHERE ${all.join(' AND ')}` : ''}`;
  };
  if (!correlation && !desc && (params.state === 'pending' || params.state === 'in_progress')) {
    // The queue's commands are the newest, so the primary key read from the oldest id
    // crosses the whole history before the first (9 s on 10 million commands). Their
    // own indexes (claim, leases) find them all, as many as the queue is deep, and only
    // the page is sorted and read in full.
    return {
      text: `WITH queued AS MATERIALIZED (${select([]).replace('SELECT *', 'SELECT id')})
SELECT c.* FROM ${t}.commands c
JOIN (SELECT id FROM queued ORDER BY id LIMIT $${values.length}) page USING (id)
ORDER BY c.id`,
      values,
    };
  }
  if (!correlation) return { text: `${select([])}\n${order}`, values };
  // A command sent without a correlation id has its own id as one, so the index of
  // correlation ids (migration 11) leaves those out: it holds what a chain shares. The
  // command that began a chain is found by its id, the rest through that index, in one
  // merge of the two in id order.
  const branches = [select(['correlation_id <> id::text'])];
  if (isUuid(correlation))
    branches.push(select([`id = ${correlationAt}::uuid`, 'correlation_id = id::text']));
  return {
    text: `SELECT * FROM (${branches.join('\nUNION ALL\n')}) listed\n${order}`,
    values,
  };
}
