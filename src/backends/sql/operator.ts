import type { Command } from '../../core/command.js';
import { CommandNotFoundError, InvalidStateError } from '../../core/errors.js';
import { OPERATOR_RULES } from '../../core/lifecycle.js';
import type { OperateParams, Queryable } from '../backend.js';
import { toCommand, type CommandRow } from './rows.js';
import { countOperated } from './counts.js';

/**
 * An operator action, in the caller's transaction: lock the row, check its state, move
 * it and audit who did it and why. Rare and interactive, so clarity beats one statement.
 */
export async function operate(
  tx: Queryable,
  schema: string,
  channel: string,
  params: OperateParams,
): Promise<Command> {
  const t = `"${schema}"`;
  const rule = OPERATOR_RULES[params.action];
  const found = await tx.query<CommandRow>(`SELECT * FROM ${t}.commands WHERE id = $1 FOR UPDATE`, [
    params.id,
  ]);
  const row = found.rows[0];
  if (!row) throw new CommandNotFoundError(params.id);
  if (!rule.from.includes(row.state)) {
    throw new InvalidStateError(params.id, params.action, row.state, rule.from);
  }
  // A batch counts its cancelled commands on its row (BatchStore says why). The row lock
  // orders this with a finish running now: the finish either waits and then counts this
  // command as cancelled, or counted it as it was before, and this then adds it.
  if (rule.to === 'cancelled' && row.batch_id)
    await tx.query(`UPDATE ${t}.batches SET cancelled = cancelled + 1 WHERE id = $1`, [
      row.batch_id,
    ]);
  // Edit then retry: the payload is replaced in the same step, and the audit keeps both.
  const dataJson = params.action === 'retry' ? (params.dataJson ?? null) : null;
  const moved = await tx.query<CommandRow>(
    `UPDATE ${t}.commands SET
       state = $2,
       attempts = CASE WHEN $4 THEN 0 ELSE attempts END,
       run_at = CASE WHEN $2 = 'pending' THEN now() ELSE run_at END,
       result = CASE WHEN $2 = 'completed' THEN $3::jsonb ELSE result END,
       data = CASE WHEN $5::text IS NULL THEN data ELSE $5::json END,
       lease_token = NULL, lease_expires_at = NULL, updated_at = now()
     WHERE id = $1 RETURNING *`,
    [
      params.id,
      rule.to,
      params.action === 'complete' ? params.resultJson : null,
      rule.attempts === 'reset to 0',
      dataJson,
    ],
  );
  await tx.query(countOperated(t), [row.domain, row.type, row.state, rule.to]);
  await tx.query(
    `INSERT INTO ${t}.audit (command_id, from_state, to_state, attempt, actor, reason, details)
     VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)`,
    [
      params.id,
      row.state,
      rule.to,
      row.attempts,
      params.actor,
      params.reason ?? params.action,
      dataJson === null
        ? null
        : JSON.stringify({ dataBefore: row.data, dataAfter: moved.rows[0]!.data }),
    ],
  );
  if (rule.to === 'pending') await tx.query(`SELECT pg_notify($1, $2)`, [channel, row.domain]);
  return toCommand(moved.rows[0]!);
}
