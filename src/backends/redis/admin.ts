import type { Redis } from 'ioredis';
import type { Command } from '../../core/command.js';
import { COMMAND_STATES, type CommandState } from '../../core/states.js';
import type { AdminQueries, CommandCount, ListCommandsParams } from '../backend.js';
import { toStoreError } from './errors.js';
import type { DomainKeys, GlobalKeys } from './keys.js';
import { toCommand, type CommandReply } from './records.js';
import { runScript } from './scripts/runner.js';

/** Commands examined per list script call; keeps each call well under a millisecond or so. */
const SCAN_BUDGET = 5000;

/**
 * Operator queries. Each domain keeps its commands in id order (and its troubleshooting
 * queue apart), so a listing walks the ids after `afterId` with its filters in a script,
 * a slice at a time, and the domains' answers are merged by id.
 */
export class RedisAdminQueries implements AdminQueries {
  constructor(
    private readonly client: Redis,
    private readonly keys: GlobalKeys,
    private readonly keysOf: (domain: string) => DomainKeys,
  ) {}

  private domains(domain: string | undefined): Promise<string[]> {
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
    try {
      return await this.count(params);
    } catch (error) {
      throw toStoreError(error, 'counting commands');
    }
  }

  // replaced by the counters
  async countCommands(params: { domain?: string | undefined }): Promise<CommandCount[]> {
    const counts = new Map<string, CommandCount>();
    let afterId: string | undefined;
    for (;;) {
      const page = await this.listCommands({ domain: params.domain, limit: 1000, afterId });
      for (const c of page) {
        const key = `${c.domain}\u0000${c.type}\u0000${c.state}`;
        const count = counts.get(key);
        if (count) count.count += 1;
        else counts.set(key, { domain: c.domain, type: c.type, state: c.state, count: 1 });
      }
      if (page.length < 1000) return [...counts.values()];
      afterId = page[page.length - 1]!.id;
    }
  }

  private async list(params: ListCommandsParams): Promise<Command[]> {
    const found: Command[] = [];
    for (const domain of await this.domains(params.domain)) {
      const k = this.keysOf(domain);
      let cursor = params.afterId ?? '';
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
          ],
        )) as [string, ...CommandReply[]];
        const [next, ...rows] = reply;
        for (const row of rows) found.push(toCommand(domain, row));
        taken += rows.length;
        if (next === '' || taken >= params.limit) break;
        cursor = next;
      }
    }
    found.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return found.slice(0, params.limit);
  }

  private async count(params: { domain?: string }): Promise<Record<CommandState, number>> {
    const counts = Object.fromEntries(COMMAND_STATES.map((s) => [s, 0])) as Record<
      CommandState,
      number
    >;
    const domains = await this.domains(params.domain);
    if (domains.length === 0) return counts;
    const pipeline = this.client.pipeline();
    for (const domain of domains) pipeline.hgetall(this.keysOf(domain).counts);
    for (const [error, reply] of (await pipeline.exec()) ?? []) {
      if (error) throw error;
      for (const [state, n] of Object.entries(reply as Record<string, string>)) {
        if (state in counts) counts[state as CommandState] += Number(n);
      }
    }
    return counts;
  }
}
