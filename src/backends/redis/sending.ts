import type { Redis } from 'ioredis';
import type { NewCommand } from '../../core/command.js';
import { ConfigurationError } from '../../core/errors.js';
import type { InsertCommandsParams, InsertedCommand } from '../backend.js';
import { toStoreError } from './errors.js';
import { SCHEMA_VERSION, type DomainKeys, type GlobalKeys } from './keys.js';
import type { CommandLocator } from './locator.js';
import { toCommand, type CommandReply } from './records.js';
import { execAll, queueScript, runScript } from './scripts/runner.js';
import { chunks, groupBy, insertArgs, newCommand } from './script-args.js';

/** What sending needs of the backend. */
export interface SendingHost {
  readonly client: Redis;
  readonly keys: GlobalKeys;
  readonly locator: CommandLocator;
  keysOf(domain: string): DomainKeys;
}

/**
 * Storing new commands (scripts/insert.ts): one script call per domain and chunk, in one
 * MULTI when a send spans calls, so it is all or none. Each command due now gets its
 * delivery ticket in the same call.
 */
export class RedisSending {
  /** Domains this process has added to the domain registry already. */
  private readonly registered = new Set<string>();

  constructor(private readonly host: SendingHost) {}

  async insert(params: InsertCommandsParams): Promise<InsertedCommand[]> {
    if (params.tx) {
      throw new ConfigurationError(
        'Redis cannot join an application transaction: send without tx, or use PostgreSQL for transactional sends',
      );
    }
    const results = new Array<InsertedCommand>(params.commands.length);
    const indexed = params.commands.map((command, index) => ({ command, index }));
    const calls: { domain: string; items: typeof indexed }[] = [];
    for (const [domain, items] of groupBy(indexed, (i) => i.command.domain)) {
      for (const part of chunks(items)) calls.push({ domain, items: part });
    }
    const fresh = [...new Set(calls.map((c) => c.domain))].filter((d) => !this.registered.has(d));
    const scriptCall = (call: (typeof calls)[number]) => {
      const k = this.host.keysOf(call.domain);
      return {
        keys: [k.ids, k.idem, k.counts, k.stream],
        args: [k.base, 'pending', '', JSON.stringify(call.items.map((i) => insertArgs(i.command)))],
      };
    };
    let replies: unknown[];
    try {
      if (calls.length === 1 && fresh.length === 0) {
        const { keys, args } = scriptCall(calls[0]!);
        replies = [await runScript(this.host.client, 'insert', keys, args)];
      } else {
        // All or none: MULTI makes every domain's script one atomic step on the server.
        const multi = this.host.client.multi();
        // a new domain marks the layout first (redis-backend.ts, checkSchema)
        if (fresh.length > 0) {
          multi.set(this.host.keys.schema, SCHEMA_VERSION, 'NX');
          multi.sadd(this.host.keys.domains, ...fresh);
        }
        for (const call of calls) {
          const { keys, args } = scriptCall(call);
          queueScript(multi, 'insert', keys, args);
        }
        replies = await execAll(multi);
        if (fresh.length > 0) replies.splice(0, 2);
      }
    } catch (error) {
      throw toStoreError(error, 'storing commands');
    }
    for (const d of fresh) this.registered.add(d);
    calls.forEach((call, n) => {
      const [now, , ...items] = replies[n] as [number, number, ...(1 | CommandReply)[]];
      call.items.forEach(({ command, index }, j) => {
        const item = items[j]!;
        if (item === 1) {
          this.host.locator.remember(command.id, call.domain);
          results[index] = { command: newCommand(command, now), created: true };
        } else {
          results[index] = { command: toCommand(call.domain, item), created: false };
        }
      });
    });
    return results;
  }

  /**
   * Stores a chunk of a batch's commands, invisible until the batch commits; used by
   * RedisBatches. Returns how many were new.
   */
  async stage(
    batchId: string,
    commands: NewCommand[],
  ): Promise<{ domains: string[]; created: number }> {
    const calls: { domain: string; items: NewCommand[] }[] = [];
    for (const [domain, items] of groupBy(commands, (c) => c.domain)) {
      for (const part of chunks(items)) calls.push({ domain, items: part });
    }
    const domains = [...new Set(calls.map((c) => c.domain))];
    const pipeline = this.host.client.pipeline();
    pipeline.set(this.host.keys.schema, SCHEMA_VERSION, 'NX');
    pipeline.sadd(this.host.keys.domains, ...domains);
    for (const call of calls) {
      const k = this.host.keysOf(call.domain);
      queueScript(
        pipeline,
        'insert',
        [k.ids, k.idem, k.counts, k.stream],
        [k.base, 'staged', k.staged(batchId), JSON.stringify(call.items.map(insertArgs))],
      );
    }
    const replies = (await execAll(pipeline)).slice(2) as [number, number][];
    for (const d of domains) this.registered.add(d);
    return { domains, created: replies.reduce((sum, r) => sum + r[1], 0) };
  }
}
