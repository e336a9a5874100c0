import type { Command } from '../../core/command.js';
import { COMMAND_STATES, type CommandState } from '../../core/states.js';
import type { AdminQueries, CommandCount, ListCommandsParams, Queryable } from '../backend.js';
import { toCommand, type CommandRow } from './rows.js';

export class SqlAdminQueries implements AdminQueries {
  private readonly t: string;
  constructor(
    private readonly db: Queryable,
    schema: string,
  ) {
    this.t = `"${schema}"`;
  }

  async listCommands(params: ListCommandsParams): Promise<Command[]> {
    const where: string[] = [];
    const values: unknown[] = [];
    const add = (clause: string, value: unknown) => {
      values.push(value);
      where.push(clause.replace('?', `$${values.length}`));
    };
    if (params.state) add('state = ?', params.state);
    if (params.domain) add('domain = ?', params.domain);
    if (params.type) add('type = ?', params.type);
    if (params.errorCode) add(`last_error->>'code' = ?`, params.errorCode);
    if (params.afterId) add('id > ?', params.afterId);
    values.push(params.limit);
    const result = await this.db.query<CommandRow>(
      `SELECT * FROM ${this.t}.commands ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY id LIMIT $${values.length}`,
      values,
    );
    return result.rows.map(toCommand);
  }

  async countByState(params: { domain?: string }): Promise<Record<CommandState, number>> {
    const result = await this.db.query<{ state: CommandState; n: number | string }>(
      `SELECT state, count(*) AS n FROM ${this.t}.commands
       ${params.domain ? 'WHERE domain = $1' : ''} GROUP BY state`,
      params.domain ? [params.domain] : [],
    );
    const counts = Object.fromEntries(COMMAND_STATES.map((s) => [s, 0])) as Record<
      CommandState,
      number
    >;
    for (const row of result.rows) counts[row.state] = Number(row.n);
    return counts;
  }

  // replaced by the counters
  async countCommands(params: { domain?: string | undefined }): Promise<CommandCount[]> {
    const result = await this.db.query<{
      domain: string;
      type: string;
      state: CommandState;
      n: number | string;
    }>(
      `SELECT domain, type, state, count(*) AS n FROM ${this.t}.commands
       ${params.domain ? 'WHERE domain = $1' : ''} GROUP BY domain, type, state`,
      params.domain ? [params.domain] : [],
    );
    return result.rows.map((row) => ({
      domain: row.domain,
      type: row.type,
      state: row.state,
      count: Number(row.n),
    }));
  }
}
