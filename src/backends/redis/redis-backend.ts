import type { ChainableCommander, Redis } from 'ioredis';
import type { AuditRecord, ClaimedCommand, Command, NewCommand } from '../../core/command.js';
import { CommandNotFoundError, ConfigurationError, SchemaVersionError } from '../../core/errors.js';
import { allowedStates } from '../sql/operator.js';
import type {
  AcquireSlotParams,
  Backend,
  BackendCapabilities,
  BatchInfo,
  ClaimParams,
  CreateBatchParams,
  InsertCommandsParams,
  InsertedCommand,
  Lease,
  OperateParams,
  PruneParams,
  ReleaseSlotParams,
  RenewLeasesParams,
  SettleParams,
  SettleResult,
  Settlement,
  TakeTokenParams,
  TakeTokenResult,
  WakeListener,
} from '../backend.js';
import { RedisAdminQueries } from './admin.js';
import { RedisBatches } from './batches.js';
import { isScriptError, scriptError, toStoreError } from './errors.js';
import { COMMAND_FIELDS, DomainKeys, GlobalKeys } from './keys.js';
import { CommandLocator } from './locator.js';
import { toAuditTrail, toClaimed, toCommand, type CommandReply } from './records.js';
import { INSERT_STRIDE, SETTLE_STRIDE } from './scripts/index.js';
import { defineScripts, runScript } from './scripts/runner.js';

/** Commands per script call: large enough to amortise the call, small enough not to stall Redis. */
const CHUNK = 1000;
const SCHEMA_VERSION = '1';

/** Runs a pipeline or MULTI and returns its replies, throwing the first error. */
export async function execAll(pipeline: ChainableCommander): Promise<unknown[]> {
  const replies = await pipeline.exec();
  if (!replies) throw new Error('the transaction was aborted');
  return replies.map(([error, reply]) => {
    if (error) throw error;
    return reply;
  });
}

function chunks<T>(items: T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

/** A command's insert arguments, in the order of INSERT_STRIDE. */
function insertArgs(c: NewCommand): string[] {
  return [
    c.id,
    c.type,
    c.dataJson,
    String(c.priority),
    String(c.maxAttempts),
    String(c.delayMs),
    c.runAt ? String(c.runAt.getTime()) : '',
    c.correlationId ?? '',
    c.causationId ?? '',
    c.batchId ?? '',
    c.idempotencyKey ?? '',
  ];
}

function newCommand(c: NewCommand, now: number): Command {
  const at = new Date(now);
  return {
    id: c.id,
    domain: c.domain,
    type: c.type,
    data: JSON.parse(c.dataJson),
    state: 'pending',
    priority: c.priority,
    attempts: 0,
    maxAttempts: c.maxAttempts,
    runAt: c.runAt ?? new Date(now + c.delayMs),
    createdAt: at,
    updatedAt: at,
    correlationId: c.correlationId,
    causationId: c.causationId,
    batchId: c.batchId,
    idempotencyKey: c.idempotencyKey,
    lastError: null,
    result: null,
    workerId: null,
    leaseExpiresAt: null,
  };
}

/**
 * The Redis store (7+): one hash per command, per-domain queues and indexes, and every
 * transition one Lua script that checks the state (and for a settle, the fencing token),
 * moves the command and appends its audit entry atomically. Batches of commands go in
 * one script call; several calls go in one pipeline (or MULTI where all-or-none matters).
 */
export class RedisBackend implements Backend {
  readonly kind = 'redis';
  readonly capabilities: BackendCapabilities = { transactions: false, wakeups: true };
  readonly admin: RedisAdminQueries;
  readonly keys: GlobalKeys;
  private readonly domainKeys = new Map<string, DomainKeys>();
  private readonly registered = new Set<string>();
  private readonly locator: CommandLocator;
  private readonly batches: RedisBatches;
  private readonly subscribers = new Set<Redis>();

  constructor(
    readonly client: Redis,
    readonly prefix: string,
    private readonly onError: (error: Error) => void = () => {},
  ) {
    defineScripts(client);
    this.keys = new GlobalKeys(prefix);
    this.locator = new CommandLocator(client, this.keys, (d) => this.keysOf(d));
    this.admin = new RedisAdminQueries(client, this.keys, (d) => this.keysOf(d));
    this.batches = new RedisBatches(this);
  }

  keysOf(domain: string): DomainKeys {
    let keys = this.domainKeys.get(domain);
    if (!keys) {
      keys = new DomainKeys(this.prefix, domain);
      this.domainKeys.set(domain, keys);
    }
    return keys;
  }

  async migrate(): Promise<void> {
    await this.client.set(this.keys.schema, SCHEMA_VERSION, 'NX');
    await this.checkSchema();
  }

  /** Redis keys are made on first write, so an empty store is fine; a newer layout is not. */
  async checkSchema(): Promise<void> {
    const version = await this.client.get(this.keys.schema);
    if (version !== null && version !== SCHEMA_VERSION) {
      throw new SchemaVersionError(
        `the Redis keys under prefix ${this.prefix} are layout version ${version}, and this Dispatchbox reads version ${SCHEMA_VERSION}; upgrade Dispatchbox or use another prefix`,
      );
    }
  }

  // ---- sending ---------------------------------------------------------------------------

  async insertCommands(params: InsertCommandsParams): Promise<InsertedCommand[]> {
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
    const run = (target: Redis | ChainableCommander, call: (typeof calls)[number]) => {
      const k = this.keysOf(call.domain);
      return runScript(
        target,
        'insert',
        [k.ids, k.idem, k.counts],
        [
          k.base,
          this.keys.wakeChannel,
          call.domain,
          'pending',
          '',
          ...call.items.flatMap((i) => insertArgs(i.command)),
        ],
      );
    };
    let replies: unknown[];
    try {
      if (calls.length === 1 && fresh.length === 0) {
        replies = [await run(this.client, calls[0]!)];
      } else {
        // All or none: MULTI makes every domain's script one atomic step on the server.
        const multi = this.client.multi();
        if (fresh.length > 0) multi.sadd(this.keys.domains, ...fresh);
        for (const call of calls) run(multi, call);
        replies = await execAll(multi);
        if (fresh.length > 0) replies.shift();
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
          this.locator.remember(command.id, call.domain);
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
  async stageCommands(
    batchId: string,
    commands: NewCommand[],
  ): Promise<{ domains: string[]; created: number }> {
    const calls: { domain: string; items: NewCommand[] }[] = [];
    for (const [domain, items] of groupBy(commands, (c) => c.domain)) {
      for (const part of chunks(items)) calls.push({ domain, items: part });
    }
    const domains = [...new Set(calls.map((c) => c.domain))];
    const pipeline = this.client.pipeline();
    pipeline.sadd(this.keys.domains, ...domains);
    for (const call of calls) {
      const k = this.keysOf(call.domain);
      runScript(
        pipeline,
        'insert',
        [k.ids, k.idem, k.counts],
        [
          k.base,
          this.keys.wakeChannel,
          call.domain,
          'staged',
          k.staged(batchId),
          ...call.items.flatMap(insertArgs),
        ],
      );
    }
    const replies = (await execAll(pipeline)).slice(1) as [number, number][];
    for (const d of domains) this.registered.add(d);
    return { domains, created: replies.reduce((sum, r) => sum + r[1], 0) };
  }

  // ---- the worker's path -------------------------------------------------------------------

  async claim(params: ClaimParams): Promise<ClaimedCommand[]> {
    if (params.types && params.types.length === 0) return [];
    const k = this.keysOf(params.domain);
    let reply: [number, ...CommandReply[]];
    try {
      reply = (await runScript(
        this.client,
        'claim',
        [k.types, k.delayed, k.leases, k.counts],
        [
          k.base,
          params.limit,
          params.leaseToken,
          params.leaseMs,
          params.workerId,
          ...(params.types ?? []),
        ],
      )) as typeof reply;
    } catch (error) {
      throw toStoreError(error, 'claiming commands');
    }
    const [, ...rows] = reply;
    return rows.map((row) => {
      this.locator.remember(row[0], params.domain);
      return toClaimed(params.domain, row);
    });
  }

  /** Groups items by the domain of their command; ids no domain holds are returned apart. */
  private async byDomain<T extends { id: string }>(
    items: T[],
  ): Promise<{ groups: Map<string, T[]>; unknown: T[] }> {
    const groups = new Map<string, T[]>();
    const unknown: T[] = [];
    for (const item of items) {
      const domain = this.locator.cached(item.id) ?? (await this.locator.find(item.id));
      if (domain === null) {
        unknown.push(item);
        continue;
      }
      const group = groups.get(domain);
      if (group) group.push(item);
      else groups.set(domain, [item]);
    }
    return { groups, unknown };
  }

  async settle(params: SettleParams): Promise<SettleResult> {
    const applied: string[] = [];
    const touched = new Set<string>();
    try {
      const { groups } = await this.byDomain(params.settlements);
      const pipeline = this.client.pipeline();
      for (const [domain, settlements] of groups) {
        const k = this.keysOf(domain);
        for (const part of chunks(settlements)) {
          runScript(
            pipeline,
            'settle',
            [k.leases, k.done, k.trouble],
            [k.base, this.keys.wakeChannel, domain, ...part.flatMap(settleArgs)],
          );
        }
      }
      for (const reply of await execAll(pipeline)) {
        const [ids, batches] = reply as [string[], string[]];
        applied.push(...ids);
        for (const b of batches) touched.add(b);
      }
    } catch (error) {
      throw toStoreError(error, 'writing outcomes');
    }
    const done = new Set(applied);
    return {
      applied,
      stale: params.settlements.filter((s) => !done.has(s.id)).map((s) => s.id),
      touchedBatchIds: [...touched],
    };
  }

  completeInTransaction(): Promise<'completed' | 'stale'> {
    return Promise.reject(
      new ConfigurationError(
        'Redis has no transactions: transactional handlers need PostgreSQL or the embedded database',
      ),
    );
  }

  async renewLeases(params: RenewLeasesParams): Promise<{ lost: string[] }> {
    const renewed = new Set<string>();
    try {
      const { groups } = await this.byDomain(params.leases);
      const pipeline = this.client.pipeline();
      for (const [domain, leases] of groups) {
        const k = this.keysOf(domain);
        for (const part of chunks(leases)) {
          runScript(
            pipeline,
            'renew',
            [k.leases],
            [k.base, params.leaseMs, ...part.flatMap((l: Lease) => [l.id, l.leaseToken])],
          );
        }
      }
      for (const reply of await execAll(pipeline))
        for (const id of reply as string[]) renewed.add(id);
    } catch (error) {
      throw toStoreError(error, 'renewing leases');
    }
    return { lost: params.leases.filter((l) => !renewed.has(l.id)).map((l) => l.id) };
  }

  async recoverExpiredLeases(params: { limit: number }): Promise<number> {
    let total = 0;
    const touched = new Set<string>();
    try {
      const domains = await this.client.smembers(this.keys.domains);
      if (domains.length === 0) return 0;
      const pipeline = this.client.pipeline();
      for (const domain of domains) {
        const k = this.keysOf(domain);
        runScript(
          pipeline,
          'recover',
          [k.leases, k.trouble],
          [k.base, params.limit, this.keys.wakeChannel, domain],
        );
      }
      for (const reply of await execAll(pipeline)) {
        const [n, batches] = reply as [number, string[]];
        total += n;
        for (const b of batches) touched.add(b);
      }
    } catch (error) {
      throw toStoreError(error, 'recovering expired leases');
    }
    if (touched.size > 0) await this.finishBatches({ batchIds: [...touched] });
    return total;
  }

  /**
   * Wake-ups come over pub/sub on a connection of their own (a subscribed connection can
   * do nothing else). ioredis re-subscribes after a reconnect; since messages published
   * meanwhile are lost, a reconnect wakes every listener once ('' = any domain).
   */
  async subscribe(listener: WakeListener): Promise<() => Promise<void>> {
    const subscriber = this.client.duplicate({
      connectionName: 'dispatchbox-wakeups',
      lazyConnect: true,
    });
    subscriber.on('error', (error: Error) => this.onError(error));
    subscriber.on('message', (_channel: string, domain: string) => listener(domain));
    let connected = false;
    subscriber.on('ready', () => {
      if (connected) listener('');
      connected = true;
    });
    try {
      await subscriber.connect();
      await subscriber.subscribe(this.keys.wakeChannel);
    } catch (error) {
      subscriber.disconnect();
      throw toStoreError(error, 'subscribing to wake-ups');
    }
    this.subscribers.add(subscriber);
    return async () => {
      this.subscribers.delete(subscriber);
      await subscriber.quit().catch(() => subscriber.disconnect());
    };
  }

  // ---- reading and operating ----------------------------------------------------------------

  private async read(
    id: string,
    extra: string[] = [],
  ): Promise<{ domain: string; reply: CommandReply; extra: (string | null)[] } | null> {
    const domain = await this.locator.find(id);
    if (domain === null) return null;
    const values = await this.client.hmget(
      this.keysOf(domain).command(id),
      ...COMMAND_FIELDS,
      ...extra,
    );
    const state = values[1];
    if (!state || state === 'staged') {
      this.locator.forget(id);
      return null;
    }
    return {
      domain,
      reply: [id, ...values.slice(0, COMMAND_FIELDS.length)],
      extra: values.slice(COMMAND_FIELDS.length),
    };
  }

  async getCommand(id: string): Promise<Command | null> {
    try {
      const found = await this.read(id);
      return found ? toCommand(found.domain, found.reply) : null;
    } catch (error) {
      throw toStoreError(error, `reading command ${id}`);
    }
  }

  async getAudit(id: string): Promise<AuditRecord[]> {
    try {
      const found = await this.read(id, ['au']);
      if (!found) return [];
      return toAuditTrail(
        toCommand(found.domain, found.reply),
        found.extra[0] ?? null,
        found.reply[13] ?? null,
      );
    } catch (error) {
      throw toStoreError(error, `reading the audit trail of ${id}`);
    }
  }

  async operate(params: OperateParams): Promise<Command> {
    const rule = { retry: 'pending', cancel: 'cancelled', complete: 'completed' } as const;
    const allowed = allowedStates(params.action);
    let command: Command;
    try {
      const domain = await this.locator.find(params.id);
      if (domain === null) throw new CommandNotFoundError(params.id);
      const k = this.keysOf(domain);
      const reply = await runScript(
        this.client,
        'operate',
        [k.trouble, k.done],
        [
          k.base,
          this.keys.wakeChannel,
          domain,
          params.id,
          rule[params.action],
          allowed.join(','),
          params.actor,
          params.reason ?? params.action,
          params.action === 'complete' ? (params.resultJson ?? 'null') : '',
        ],
      );
      if (isScriptError(reply)) {
        throw scriptError(reply, { id: params.id, action: params.action, allowed });
      }
      command = toCommand(domain, (reply as [string, CommandReply])[1]);
    } catch (error) {
      throw toStoreError(error, `running ${params.action} on ${params.id}`);
    }
    if (command.batchId && command.state !== 'pending')
      await this.finishBatches({ batchIds: [command.batchId] });
    return command;
  }

  // ---- shared limits ----------------------------------------------------------------------

  async takeToken(params: TakeTokenParams): Promise<TakeTokenResult> {
    try {
      const [granted, retryAfterMs] = (await runScript(
        this.client,
        'takeToken',
        [this.keys.bucket(params.key)],
        [params.capacity, params.perMs / params.limit],
      )) as [number, number];
      return { granted: granted === 1, retryAfterMs };
    } catch (error) {
      throw toStoreError(error, `taking a token of rate limit ${params.key}`);
    }
  }

  async acquireSlot(params: AcquireSlotParams): Promise<boolean> {
    try {
      const got = await runScript(
        this.client,
        'acquireSlot',
        [this.keys.slots(params.key)],
        [params.limit, params.holder, params.leaseMs],
      );
      return got === 1;
    } catch (error) {
      throw toStoreError(error, `acquiring a slot of concurrency cap ${params.key}`);
    }
  }

  async releaseSlot(params: ReleaseSlotParams): Promise<void> {
    try {
      await this.client.zrem(this.keys.slots(params.key), params.holder);
    } catch (error) {
      throw toStoreError(error, `releasing a slot of concurrency cap ${params.key}`);
    }
  }

  // ---- batches and retention ----------------------------------------------------------------

  createBatch(params: CreateBatchParams): Promise<BatchInfo> {
    return this.batches.create(params);
  }

  getBatch(id: string): Promise<BatchInfo | null> {
    return this.batches.get(id);
  }

  finishBatches(params: { batchIds?: string[] }): Promise<BatchInfo[]> {
    return this.batches.finish(params.batchIds);
  }

  async prune(params: PruneParams): Promise<number> {
    let total = 0;
    try {
      const domains = await this.client.smembers(this.keys.domains);
      if (domains.length > 0) {
        const pipeline = this.client.pipeline();
        for (const domain of domains) {
          const k = this.keysOf(domain);
          runScript(
            pipeline,
            'prune',
            [k.done, k.ids, k.idem, k.counts],
            [k.base, params.olderThanMs, params.limit],
          );
        }
        for (const n of await execAll(pipeline)) total += n as number;
      }
      await this.batches.prune(params.olderThanMs);
    } catch (error) {
      throw toStoreError(error, 'pruning old commands');
    }
    return total;
  }

  async close(): Promise<void> {
    for (const subscriber of this.subscribers) subscriber.disconnect();
    this.subscribers.clear();
    await this.client.quit().catch(() => this.client.disconnect());
  }
}

/** A settlement's arguments, in the order of SETTLE_STRIDE. */
function settleArgs(s: Settlement): string[] {
  switch (s.kind) {
    case 'complete':
      return [s.id, s.leaseToken, s.kind, s.resultJson ?? '', '0', ''];
    case 'retry':
      return [s.id, s.leaseToken, s.kind, JSON.stringify(s.error), String(s.delayMs), ''];
    case 'troubleshoot':
      return [s.id, s.leaseToken, s.kind, JSON.stringify(s.error), '0', ''];
    case 'release':
      return [s.id, s.leaseToken, s.kind, '', String(s.delayMs), s.reason];
  }
}

export { INSERT_STRIDE, SETTLE_STRIDE };
