import type { Redis } from 'ioredis';
import type { AuditRecord, Command } from '../../core/command.js';
import { CommandNotFoundError } from '../../core/errors.js';
import { isFinishedForBatch, OPERATOR_RULES } from '../../core/lifecycle.js';
import type { OperateParams } from '../backend.js';
import { isScriptError, scriptError, toStoreError } from './errors.js';
import { COMMAND_FIELDS, STAGED_STATE, type DomainKeys } from './keys.js';
import type { CommandLocator } from './locator.js';
import { COMMAND_AT, toAuditTrail, toCommand, type CommandReply } from './records.js';
import { runScript } from './scripts/runner.js';

/** What reads and operator actions need of the backend. */
export interface CommandsHost {
  readonly client: Redis;
  readonly locator: CommandLocator;
  keysOf(domain: string): DomainKeys;
  finishBatches(params: { batchIds?: string[] }): Promise<unknown>;
}

/** Reading one command or its audit trail, and the operator's retry, cancel and complete. */
export class RedisCommands {
  constructor(private readonly host: CommandsHost) {}

  private async read(
    id: string,
    extra: string[] = [],
  ): Promise<{ domain: string; reply: CommandReply; extra: (string | null)[] } | null> {
    const domain = await this.host.locator.find(id);
    if (domain === null) return null;
    const values = await this.host.client.hmget(
      this.host.keysOf(domain).command(id),
      ...COMMAND_FIELDS,
      ...extra,
    );
    const reply: CommandReply = [id, ...values.slice(0, COMMAND_FIELDS.length)];
    const state = reply[COMMAND_AT.s];
    if (!state || state === STAGED_STATE) {
      this.host.locator.forget(id);
      return null;
    }
    return { domain, reply, extra: values.slice(COMMAND_FIELDS.length) };
  }

  async get(id: string): Promise<Command | null> {
    try {
      const found = await this.read(id);
      return found ? toCommand(found.domain, found.reply) : null;
    } catch (error) {
      throw toStoreError(error, `reading command ${id}`);
    }
  }

  async audit(id: string): Promise<AuditRecord[]> {
    try {
      const found = await this.read(id, ['au']);
      if (!found) return [];
      return toAuditTrail(
        toCommand(found.domain, found.reply),
        found.extra[0] ?? null,
        found.reply[COMMAND_AT.sa] ?? null,
      );
    } catch (error) {
      throw toStoreError(error, `reading the audit trail of ${id}`);
    }
  }

  async operate(params: OperateParams): Promise<Command> {
    const { from: allowed, to } = OPERATOR_RULES[params.action];
    let command: Command;
    try {
      const domain = await this.host.locator.find(params.id);
      if (domain === null) throw new CommandNotFoundError(params.id);
      const k = this.host.keysOf(domain);
      const reply = await runScript(
        this.host.client,
        'operate',
        [k.trouble, k.done, k.stream],
        [
          k.base,
          params.id,
          to,
          allowed.join(','),
          params.actor,
          params.reason ?? params.action,
          params.action === 'complete' ? (params.resultJson ?? 'null') : '',
          params.action === 'retry' ? (params.dataJson ?? '') : '',
        ],
      );
      if (isScriptError(reply)) {
        throw scriptError(reply, { id: params.id, action: params.action, allowed });
      }
      command = toCommand(domain, (reply as [string, CommandReply])[1]);
    } catch (error) {
      throw toStoreError(error, `running ${params.action} on ${params.id}`);
    }
    if (command.batchId && isFinishedForBatch(command.state))
      await this.host.finishBatches({ batchIds: [command.batchId] });
    return command;
  }
}
