/**
 * Where everything lives in Redis. Every key of one domain starts with
 * `<prefix>:{<domain>}:`, so the whole domain shares one hash tag: on Redis Cluster it
 * sits in one slot and each Lua script touches a single node. The few keys that span
 * domains (the domain registry, the batch index, batch records) are touched outside the
 * domain scripts, in steps that are safe to repeat.
 *
 * Per domain:
 *   c:<id>        hash, one per command (fields in COMMAND_FIELDS, plus `au`, its audit trail)
 *   r:<type>      zset, the ready commands of one type (score -priority, member runAt|id)
 *   types         set, the types that have a ready queue
 *   delayed       zset, pending commands not yet due (score runAt ms)
 *   leases        zset, in-progress commands (score lease expiry ms)
 *   trouble       zset, the troubleshooting queue (score 0, ordered by id)
 *   done          zset, completed and cancelled commands (score updated ms, for retention)
 *   ids           zset, every visible command (score 0, ordered by id, for listing)
 *   idem          hash, idempotency key -> command id
 *   counts        hash, state -> number of commands
 *   bc:<batch>    hash, the batch's commands in this domain: state -> n, `failed` -> n
 *   staged:<batch> list, commands of a batch being created, not yet visible
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
] as const;

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
  /** pub/sub channel: the domain that has new work */
  readonly wakeChannel: string;
  readonly schema: string;

  constructor(readonly prefix: string) {
    this.domains = `${prefix}:domains`;
    this.openBatches = `${prefix}:batches:open`;
    this.stagingBatches = `${prefix}:batches:staging`;
    this.finishedBatches = `${prefix}:batches:finished`;
    this.wakeChannel = `${prefix}:wake`;
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
}
