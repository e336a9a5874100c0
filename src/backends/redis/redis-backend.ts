import type { Redis } from 'ioredis';
import type { AuditRecord, ClaimedCommand, Command, NewCommand } from '../../core/command.js';
import { ConfigurationError } from '../../core/errors.js';
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
  TakeTokenParams,
  TakeTokenResult,
  WakeListener,
} from '../backend.js';
import { RedisAdminQueries } from './admin.js';
import { RedisBatches } from './batches.js';
import { RedisSampleStore } from './samples.js';
import { RedisCommands } from './commands.js';
import { isRefusal, toStoreError } from './errors.js';
import { DomainKeys, GlobalKeys } from './keys.js';
import { RedisLimits } from './limits.js';
import { CommandLocator } from './locator.js';
import { toClaimed, type ClaimReply } from './records.js';
import {
  defineScripts,
  queueScript,
  runScript,
  runScripts,
  type ScriptCall,
} from './scripts/runner.js';
import { chunks, handlerMaxAttemptsArgs, packSettlements } from './script-args.js';
import { checkLayout, migrateLayout } from './schema.js';
import { RedisSending } from './sending.js';
import { TicketDelivery } from './tickets.js';
import { RedisWorkerRegistry } from './workers.js';

/** The lease a dead consumer's tickets are judged by when no claim recorded one lately. */
const DEFAULT_LEASE_MS = 30_000;
/** Ticket retention (scripts/tickets.ts): per call, cap, and when an empty consumer is forgotten. */
const TRIM_PER_CALL = 10_000;
const TRIM_ROUNDS = 20;
const STREAM_CAP = 1_000_000;
const FORGET_CONSUMER_MS = 60 * 60 * 1000;

/**
 * The Redis store (7+): one hash per command, per-domain queues and indexes, and every
 * transition one Lua script that checks the state (and for a settle, the fencing token),
 * moves the command and appends its audit entry atomically. Batches of commands go in
 * one script call; several calls go in one pipeline (or MULTI where all-or-none matters).
 * Sorted sets keep the order (priority, due time, type); a stream per domain carries
 * delivery tickets for wake-ups, acknowledgements and dead consumers (tickets.ts).
 */
export class RedisBackend implements Backend {
  readonly kind = 'redis';
  readonly capabilities: BackendCapabilities = {
    transactions: false,
    wakeups: true,
    // claims of 100 against 500: drain 39,000 against 38,000/s, worker peak RSS 102
    // against 107 MB (bench/RESULTS.md)
    claimBatchSize: 100,
    waitingClaims: true,
  };
  readonly admin: RedisAdminQueries;
  readonly workers: RedisWorkerRegistry;
  readonly samples: RedisSampleStore;
  readonly keys: GlobalKeys;
  private readonly domainKeys = new Map<string, DomainKeys>();
  readonly locator: CommandLocator;
  private readonly batches: RedisBatches;
  private readonly commands: RedisCommands;
  private readonly limits: RedisLimits;
  private readonly tickets: TicketDelivery;
  private readonly sending: RedisSending;

  constructor(
    readonly client: Redis,
    readonly prefix: string,
    private readonly onError: (error: Error) => void = () => {},
  ) {
    defineScripts(client);
    this.keys = new GlobalKeys(prefix);
    this.locator = new CommandLocator(client, this.keys, (d) => this.keysOf(d));
    this.admin = new RedisAdminQueries(client, this.keys, (d) => this.keysOf(d));
    this.workers = new RedisWorkerRegistry(client, this.keys);
    this.samples = new RedisSampleStore(client, prefix);
    this.batches = new RedisBatches(this);
    this.commands = new RedisCommands(this);
    this.limits = new RedisLimits(client, this.keys);
    this.tickets = new TicketDelivery(client, (d) => this.keysOf(d), onError);
    this.sending = new RedisSending(this);
  }

  keysOf(domain: string): DomainKeys {
    let keys = this.domainKeys.get(domain);
    if (!keys) {
      keys = new DomainKeys(this.prefix, domain);
      this.domainKeys.set(domain, keys);
    }
    return keys;
  }

  /** Brings the key layout to this version's (schema.ts). */
  migrate(): Promise<void> {
    return migrateLayout(this.client, this.keys, (d) => this.keysOf(d));
  }

  /** Throws SchemaVersionError unless the keys are of this version's layout (schema.ts). */
  checkSchema(): Promise<void> {
    return checkLayout(this.client, this.keys);
  }

  // ---- sending ---------------------------------------------------------------------------

  insertCommands(params: InsertCommandsParams): Promise<InsertedCommand[]> {
    return this.sending.insert(params);
  }

  isRefusal(error: unknown): boolean {
    return isRefusal(error);
  }

  /** Stores a chunk of a batch's commands, invisible until the batch commits (RedisBatches). */
  stageCommands(
    batchId: string,
    commands: NewCommand[],
  ): Promise<{ domains: string[]; created: number }> {
    return this.sending.stage(batchId, commands);
  }

  // ---- the worker's path -------------------------------------------------------------------

  /**
   * Claims by priority from the ready queues (scripts/claim.ts). The tickets this worker's
   * blocking read took go with the claim, which reads more itself (XREADGROUP) and pins
   * one on each command it takes; a claim that gets less than it asked arms the worker's
   * blocking read, which is how an idle worker hears of new work at once. A worker that
   * waits by claiming (`waitMs`) does both in one: the claim is pipelined behind the
   * blocking read on the worker's connection, so the command is claimed in the round trip
   * that brought its ticket, where a wake-up and then a claim take two.
   */
  async claim(params: ClaimParams): Promise<ClaimedCommand[]> {
    if (params.types && params.types.length === 0) return [];
    const k = this.keysOf(params.domain);
    const held = this.tickets.take(params.workerId, params.domain, params.limit);
    const keys = [k.types, k.delayed, k.leases, k.counts, k.stream, k.maxLease];
    const args = [
      k.base,
      params.limit,
      params.leaseToken,
      params.leaseMs,
      params.workerId,
      ...handlerMaxAttemptsArgs(params.handlerMaxAttempts),
      held.length,
      ...held,
      ...(params.types ?? []),
    ];
    // a worker that waits by claiming: its reader does not also read (tickets.claimed)
    const waits = params.waitMs !== undefined;
    const waitMs = params.signal?.aborted ? 0 : (params.waitMs ?? 0);
    let reply: [number, ...ClaimReply[]];
    try {
      if (waitMs > 0) {
        // The claim runs the moment the worker's blocking read returns. The tickets that
        // read took are already delivered, so this claim cannot pin them: the next claim
        // does, or acknowledges them as spare.
        const read = await this.tickets.afterRead(
          params.workerId,
          params.domain,
          { count: params.limit, waitMs, signal: params.signal },
          (pipeline) => queueScript(pipeline, 'claim', keys, args),
        );
        this.tickets.giveBack(params.workerId, params.domain, read.tickets);
        reply = read.replies[0] as typeof reply;
      } else {
        reply = (await runScript(this.client, 'claim', keys, args)) as typeof reply;
      }
    } catch (error) {
      this.tickets.giveBack(params.workerId, params.domain, held);
      throw toStoreError(error, 'claiming commands');
    }
    const [now, ...rows] = reply;
    this.tickets.claimed(params.workerId, params.domain, params.limit, rows.length, !waits);
    // the worker names the domain when it settles or renews, so claimed ids need no memory
    const claim = {
      now,
      leaseMs: params.leaseMs,
      leaseToken: params.leaseToken,
      workerId: params.workerId,
    };
    const claimed = rows.map((row) => toClaimed(params.domain, row, claim));
    // The reply array stays reachable from an old object on the client's reply path until
    // the next full collection (the client's Command and its promise are not it: both are
    // young when the reply arrives). While it does, every row and field string it holds
    // outlives the scavenges and is promoted: the whole reply, 70 MB per 100,000 commands.
    // Emptying it once decoded lets them die young (27 MB promoted, most of it not ours).
    reply.length = 0;
    return claimed;
  }

  /** Groups items by the domain of their command; ids no domain holds are returned apart. */
  private async byDomain<T extends { id: string; domain?: string }>(
    items: T[],
  ): Promise<{ groups: Map<string, T[]>; unknown: T[] }> {
    const groups = new Map<string, T[]>();
    const unknown: T[] = [];
    for (const item of items) {
      const domain =
        item.domain ?? this.locator.cached(item.id) ?? (await this.locator.find(item.id));
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
    const stale: string[] = [];
    const touched = new Set<string>();
    try {
      const { groups, unknown } = await this.byDomain(params.settlements);
      for (const item of unknown) stale.push(item.id);
      const calls: ScriptCall[] = [];
      for (const [domain, settlements] of groups) {
        const k = this.keysOf(domain);
        for (const part of chunks(settlements)) {
          calls.push({
            keys: [k.leases, k.done, k.trouble, k.stream],
            args: [k.base, packSettlements(part), params.workerId],
          });
        }
      }
      for (const reply of await runScripts(this.client, 'settle', calls)) {
        const [refused, batches] = reply as [string[], string[]];
        for (const id of refused) stale.push(id);
        for (const b of batches) touched.add(b);
      }
    } catch (error) {
      throw toStoreError(error, 'writing outcomes');
    }
    // the script names only the refused: the applied are the rest, whose ids are here already
    const refused = new Set(stale);
    return {
      applied: params.settlements.filter((s) => !refused.has(s.id)).map((s) => s.id),
      stale,
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
      const calls: ScriptCall[] = [];
      for (const [domain, leases] of groups) {
        const k = this.keysOf(domain);
        for (const part of chunks(leases)) {
          calls.push({
            keys: [k.leases, k.stream],
            args: [k.base, params.leaseMs, ...part.flatMap((l: Lease) => [l.id, l.leaseToken])],
          });
        }
      }
      for (const reply of await runScripts(this.client, 'renew', calls))
        for (const id of reply as string[]) renewed.add(id);
    } catch (error) {
      throw toStoreError(error, 'renewing leases');
    }
    return { lost: params.leases.filter((l) => !renewed.has(l.id)).map((l) => l.id) };
  }

  /**
   * The domains' maintenance step (scripts/recover.ts): due delayed commands to
   * their ready queues, dead consumers' tickets taken back, expired leases recovered;
   * then the ticket streams are trimmed of acknowledged history.
   */
  async recoverExpiredLeases(params: { limit: number }): Promise<number> {
    let total = 0;
    const touched = new Set<string>();
    try {
      const domains = await this.client.smembers(this.keys.domains);
      if (domains.length === 0) return 0;
      const calls = domains.map((domain): ScriptCall => {
        const k = this.keysOf(domain);
        return {
          keys: [k.leases, k.trouble, k.stream, k.maxLease],
          args: [k.base, params.limit, DEFAULT_LEASE_MS],
        };
      });
      for (const reply of await runScripts(this.client, 'recover', calls)) {
        const [n, batches] = reply as [number, string[], number];
        total += n;
        for (const b of batches) touched.add(b);
      }
      await this.trimTickets(domains);
    } catch (error) {
      throw toStoreError(error, 'recovering expired leases');
    }
    if (touched.size > 0) await this.finishBatches({ batchIds: [...touched] });
    return total;
  }

  /** Trims each domain's ticket stream of acknowledged tickets, a bounded slice per call. */
  async trimTickets(domains: string[]): Promise<number> {
    let trimmed = 0;
    let left = domains;
    for (let round = 0; round < TRIM_ROUNDS && left.length > 0; round++) {
      const calls = left.map((domain): ScriptCall => ({
        keys: [this.keysOf(domain).stream],
        args: [TRIM_PER_CALL, STREAM_CAP, FORGET_CONSUMER_MS],
      }));
      const replies = (await runScripts(this.client, 'trimTickets', calls)) as [number, number][];
      for (const [n] of replies) trimmed += n;
      // another round only for the streams that had a full slice trimmed
      left = left.filter((_, i) => replies[i]![0] >= TRIM_PER_CALL);
    }
    return trimmed;
  }

  /**
   * Wake-ups come from the workers' blocking reads of the ticket streams (tickets.ts),
   * which start with each worker's first claim; a subscription listens to all of them.
   */
  subscribe(listener: WakeListener): Promise<() => Promise<void>> {
    const unsubscribe = this.tickets.subscribe(listener);
    const stop = (): Promise<void> => {
      unsubscribe();
      return Promise.resolve();
    };
    return Promise.resolve(stop);
  }

  // ---- reading and operating ----------------------------------------------------------------

  getCommand(id: string): Promise<Command | null> {
    return this.commands.get(id);
  }

  getAudit(id: string): Promise<AuditRecord[]> {
    return this.commands.audit(id);
  }

  operate(params: OperateParams): Promise<Command> {
    return this.commands.operate(params);
  }

  // ---- shared limits ----------------------------------------------------------------------

  takeToken(params: TakeTokenParams): Promise<TakeTokenResult> {
    return this.limits.takeToken(params);
  }

  acquireSlot(params: AcquireSlotParams): Promise<boolean> {
    return this.limits.acquireSlot(params);
  }

  releaseSlot(params: ReleaseSlotParams): Promise<void> {
    return this.limits.releaseSlot(params);
  }

  // ---- batches and retention ----------------------------------------------------------------

  createBatch(params: CreateBatchParams): Promise<BatchInfo> {
    return this.batches.create(params);
  }

  getBatch(id: string): Promise<BatchInfo | null> {
    return this.batches.get(id);
  }

  listBatches(params: { limit: number; afterId?: string | undefined }): Promise<BatchInfo[]> {
    return this.batches.list(params);
  }

  finishBatches(params: { batchIds?: string[] }): Promise<BatchInfo[]> {
    return this.batches.finish(params.batchIds);
  }

  async prune(params: PruneParams): Promise<number> {
    let total = 0;
    try {
      const domains = await this.client.smembers(this.keys.domains);
      if (domains.length > 0) {
        const calls = domains.map((domain): ScriptCall => {
          const k = this.keysOf(domain);
          return {
            keys: [k.done, k.ids, k.idem, k.counts],
            args: [k.base, params.olderThanMs, params.limit],
          };
        });
        for (const n of await runScripts(this.client, 'prune', calls)) total += n as number;
        await this.trimTickets(domains);
      }
      await this.batches.prune(params.olderThanMs);
    } catch (error) {
      throw toStoreError(error, 'pruning old commands');
    }
    return total;
  }

  async ping(): Promise<void> {
    try {
      await this.client.ping();
    } catch (error) {
      throw toStoreError(error, 'pinging the store');
    }
  }

  async close(): Promise<void> {
    this.tickets.close();
    await this.client.quit().catch(() => this.client.disconnect());
  }
}
