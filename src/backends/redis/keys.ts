/**
 * Where everything lives in Redis. Every key of one domain starts with
 * `<prefix>:{<domain>}:`, so the whole domain shares one hash tag: on Redis Cluster it
 * sits in one slot and each Lua script touches a single node. The few keys that span
 * domains (the domain registry, the batch index, batch records) are touched outside the
 * domain scripts, in steps that are safe to repeat.
 *
 * Per domain:
 *   c:<id>        hash, one per command (fields in COMMAND_FIELDS, plus `au`, its audit
 *                 trail, and `tk`, the stream ticket its current claim holds, or '')
 *   r:<type>      zset, the ready commands of one type (score -priority, member runAt|id)
 *   types         set, the types that have a ready queue
 *   delayed       zset, pending commands not yet due (score runAt ms)
 *   leases        zset, in-progress commands (score lease expiry ms)
 *   trouble       zset, the troubleshooting queue (score 0, ordered by id)
 *   done          zset, completed and cancelled commands (score updated ms, for retention)
 *   ids           zset, every visible command (score 0, ordered by id, for listing)
 *   idem          hash, idempotency key -> command id
 *   counts        hash, `<type>\0<state>` -> number of commands of that type in that state
 *                 (never 0: a field that reaches 0 is deleted); see COUNT_SEPARATOR
 *   bc:<batch>    hash, the batch's commands in this domain: state -> n, `failed` -> n
 *   staged:<batch> list, commands of a batch being created, not yet visible
 *   stream        stream of delivery tickets, one entry (`id <command id>`) each time a
 *                 command becomes ready; read by the consumer group TICKET_GROUP
 *   maxlease      string, the longest lease a claim asked for lately (expires), the idle
 *                 time after which a ticket's consumer counts as dead (see tickets.ts)
 */
export const COMMAND_FIELDS = [
  't', // type
  's', // state
  'd', // data (JSON)
  'p', // priority
  'a', // attempts
  'm', // max attempts
  'r', // run at (ms)
  'c', // created at (ms)
  'u', // updated at (ms)
  'lt', // lease token
  'le', // lease expires at (ms)
  'w', // worker id
  'sa', // started at (ms) of the current or last attempt
  'co', // correlation id
  'ca', // causation id
  'b', // batch id
  'k', // idempotency key
  'res', // result (JSON)
  'e', // last error (JSON)
  'pm', // max attempts of the handler's policy, written by each claim (used when 'm' is '')
  'h', // headers (JSON object), absent when the command carries none
] as const;

/**
 * What a claim reads of each command, in this order: the state it checks, then what the
 * worker gets that the claim does not write itself (records.ts, toClaimed).
 */
export const CLAIM_FIELDS = [
  's',
  't',
  'd',
  'p',
  'a',
  'm',
  'r',
  'c',
  'co',
  'ca',
  'b',
  'k',
  'res',
  'e',
  'h',
] as const satisfies readonly CommandField[];

/**
 * Between a type and a state in a field of the domain's `counts` hash. A state never holds
 * it, so the state is what follows the last one whatever the type's name.
 */
export const COUNT_SEPARATOR = '\0';

/**
 * The state of a command of a batch being created: stored but invisible (not counted,
 * listed or claimable) until its batch commits. Redis's own, not a CommandState.
 */
export const STAGED_STATE = 'staged';

/**
 * The key layout, kept under GlobalKeys.schema. 2 keeps the domains' counts per type and
 * state; 1 kept them per state (RedisBackend.migrate recounts).
 */
export const SCHEMA_VERSION = '2';

/** The one consumer group of every domain's ticket stream; consumers are worker ids. */
export const TICKET_GROUP = 'dispatchbox';

export type CommandField = (typeof COMMAND_FIELDS)[number];

const PREFIX_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

export function isValidPrefix(prefix: string): boolean {
  return PREFIX_PATTERN.test(prefix);
}

/** The keys of one domain, as the scripts take them. */
export class DomainKeys {
  readonly base: string;
  readonly ids: string;
  readonly idem: string;
  readonly counts: string;
  readonly delayed: string;
  readonly types: string;
  readonly leases: string;
  readonly trouble: string;
  readonly done: string;
  readonly stream: string;
  readonly maxLease: string;

  constructor(
    prefix: string,
    readonly domain: string,
  ) {
    this.base = `${prefix}:{${domain}}:`;
    this.ids = `${this.base}ids`;
    this.idem = `${this.base}idem`;
    this.counts = `${this.base}counts`;
    this.delayed = `${this.base}delayed`;
    this.types = `${this.base}types`;
    this.leases = `${this.base}leases`;
    this.trouble = `${this.base}trouble`;
    this.done = `${this.base}done`;
    this.stream = `${this.base}stream`;
    this.maxLease = `${this.base}maxlease`;
  }

  command(id: string): string {
    return `${this.base}c:${id}`;
  }

  batchCounts(batchId: string): string {
    return `${this.base}bc:${batchId}`;
  }

  staged(batchId: string): string {
    return `${this.base}staged:${batchId}`;
  }
}

/** Keys that span domains. */
export class GlobalKeys {
  /** set of every domain that ever had a command */
  readonly domains: string;
  /** zset of open batches by creation time */
  readonly openBatches: string;
  /** zset of batches being created (staged, not committed) by start time */
  readonly stagingBatches: string;
  /** zset of finished batches by finish time, for retention */
  readonly finishedBatches: string;
  /** zset of every committed batch (score 0, ordered by id), for listing newest first */
  readonly batchIds: string;
  readonly schema: string;

  constructor(readonly prefix: string) {
    this.domains = `${prefix}:domains`;
    this.openBatches = `${prefix}:batches:open`;
    this.stagingBatches = `${prefix}:batches:staging`;
    this.finishedBatches = `${prefix}:batches:finished`;
    this.batchIds = `${prefix}:batches:ids`;
    this.schema = `${prefix}:schema`;
  }

  /** A token bucket, tagged by its name. */
  bucket(name: string): string {
    return `${this.prefix}:bucket:{${name}}`;
  }

  /** A concurrency cap's holders, tagged by its name. */
  slots(name: string): string {
    return `${this.prefix}:slots:{${name}}`;
  }

  /** One hash per batch, tagged by its id. */
  batch(id: string): string {
    return `${this.prefix}:batch:{${id}}`;
  }

  /**
   * The worker registry (workers.ts): a zset of worker ids by the time each is forgotten,
   * and one hash per worker, all under one tag so that a script touches one slot.
   */
  get workers(): string {
    return `${this.prefix}:workers:{registry}:index`;
  }

  /** The start of every worker's hash key; the worker's id follows. */
  get workerBase(): string {
    return `${this.prefix}:workers:{registry}:w:`;
  }
}
