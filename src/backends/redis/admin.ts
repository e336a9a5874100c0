import type { Redis } from 'ioredis';
import type { Command } from '../../core/command.js';
import { COMMAND_STATES, isCommandState, type CommandState } from '../../core/states.js';
import type { AdminQueries, CommandCount, ListCommandsParams, OldestPending } from '../backend.js';
import { ValidationError } from '../../core/errors.js';
import { isUuid } from '../../core/ids.js';
import { toStoreError } from './errors.js';
import { COUNT_SEPARATOR, type DomainKeys, type GlobalKeys } from './keys.js';
import { toCommand, type CommandReply } from './records.js';
import { runScript, runScripts } from './scripts/runner.js';

/** Commands examined per list script call; keeps each call well under a millisecond or so. */
const SCAN_BUDGET = 5000;

/**
 * Operator queries. Each domain keeps its commands in id order (and its troubleshooting
 * queue apart), so a listing walks the ids after `afterId` (forwards, or backwards for
 * newest first) with its filters in a script, a slice at a time, and the domains' answers
 * are merged in the listing's order. Only the troubleshooting queue and a batch's domains
 * narrow the walk; the other filters are checks on the commands walked.
 */
export class RedisAdminQueries implements AdminQueries {
  constructor(
    private readonly client: Redis,
    private readonly keys: GlobalKeys,
    private readonly keysOf: (domain: string) => DomainKeys,
  ) {}

  private domains(domain: string | undefined): Promise<string[]> {
    // every domain that ever had a command is in the registry (sending.ts adds it first)
    return domain ? Promise.resolve([domain]) : this.client.smembers(this.keys.domains);
  }

  async listCommands(params: ListCommandsParams): Promise<Command[]> {
    try {
      return await this.list(params);
    } catch (error) {
      throw toStoreError(error, 'listing commands');
    }
  }

  async countByState(params: { domain?: string }): Promise<Record<CommandState, number>> {
    const counts = Object.fromEntries(COMMAND_STATES.map((s) => [s, 0])) as Record<
      CommandState,
      number
    >;
    for (const c of await this.countCommands(params)) counts[c.state] += c.count;
    return counts;
  }

  /**
   * Reads each domain's `counts` hash (keys.ts): one field per type and state, changed by
   * the script of every transition, so one HGETALL per domain answers whatever the history.
   */
  async countCommands(params: { domain?: string | undefined }): Promise<CommandCount[]> {
    try {
      const domains = await this.domains(params.domain);
      if (domains.length === 0) return [];
      const pipeline = this.client.pipeline();
      for (const domain of domains) pipeline.hgetall(this.keysOf(domain).counts);
      const replies = (await pipeline.exec()) ?? [];
      const found: CommandCount[] = [];
      replies.forEach(([error, reply], i) => {
        if (error) throw error;
        const domain = domains[i]!;
        for (const [field, n] of Object.entries(reply as Record<string, string>)) {
          const cut = field.lastIndexOf(COUNT_SEPARATOR);
          const state = field.slice(cut + 1);
          const count = Number(n);
          // a field of another layout (a worker of layout 1 still running) is no count here
          if (cut < 0 || !isCommandState(state) || count === 0) continue;
          found.push({ domain, type: field.slice(0, cut), state, count });
        }
      });
      return found;
    } catch (error) {
      throw toStoreError(error, 'counting commands');
    }
  }

  /** One read-only script per domain (scripts/oldest.ts), all in one pipeline. */
  async oldestPending(params: { domain?: string | undefined } = {}): Promise<OldestPending[]> {
    try {
      const domains = (await this.domains(params.domain)).toSorted();
      if (domains.length === 0) return [];
      const replies = await runScripts(
        this.client,
        'oldestPending',
        domains.map((domain) => {
          const k = this.keysOf(domain);
          return { keys: [k.types, k.delayed], args: [k.base] };
        }),
      );
      const found: OldestPending[] = [];
      replies.forEach((reply, i) => {
        if (reply !== '') found.push({ domain: domains[i]!, runAt: new Date(Number(reply)) });
      });
      return found;
    } catch (error) {
      throw toStoreError(error, 'reading the oldest pending commands');
    }
  }

  private async list(params: ListCommandsParams): Promise<Command[]> {
    const { afterId } = params;
    if (afterId !== undefined && !isUuid(afterId))
      throw new ValidationError(
        `afterId must be a command id (a UUID), got ${JSON.stringify(afterId)}: pass the last id of the previous page`,
        'afterId',
      );
    const desc = params.order === 'desc';
    const found: Command[] = [];
    for (const domain of await this.listedDomains(params)) {
      const k = this.keysOf(domain);
      let cursor = afterId ?? '';
      let taken = 0;
      for (;;) {
        const reply = (await runScript(
          this.client,
          'list',
          [k.ids, k.trouble],
          [
            k.base,
            params.state ?? '',
            cursor,
            params.type ?? '',
            params.errorCode ?? '',
            params.limit - taken,
            SCAN_BUDGET,
            desc ? 'desc' : 'asc',
            params.batchId ?? '',
            params.correlationId ?? '',
            params.causationId ?? '',
            params.createdAfter?.getTime() ?? '',
            params.createdBefore?.getTime() ?? '',
            params.text?.toLowerCase() ?? '',
          ],
        )) as [string, ...CommandReply[]];
        const [next, ...rows] = reply;
        for (const row of rows) found.push(toCommand(domain, row));
        taken += rows.length;
        if (next === '' || taken >= params.limit) break;
        cursor = next;
      }
    }
    // Each domain gave its first `limit` in the listing's order; the first `limit` of all
    // of them are the page.
    found.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) * (desc ? -1 : 1));
    return found.slice(0, params.limit);
  }

  /**
   * The domains a listing walks: the one named, or those a batch has commands in (its
   * record names them), or every domain. A batch whose record retention removed may
   * still have commands, so then every domain is walked.
   */
  private async listedDomains(params: ListCommandsParams): Promise<string[]> {
    const all = await this.domains(params.domain);
    if (!params.batchId) return all;
    const named = await this.client.hget(this.keys.batch(params.batchId), 'doms');
    if (named === null) return all;
    const batchDomains = new Set(JSON.parse(named) as string[]);
    return all.filter((d) => batchDomains.has(d));
  }
}
