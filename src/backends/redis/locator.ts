import type { Redis } from 'ioredis';
import type { DomainKeys, GlobalKeys } from './keys.js';

/**
 * Which domain holds a command. Command keys carry their domain's hash tag (so one script
 * can move a command and its domain's queues atomically), but the contract names a
 * command by id alone. Ids this process sent or claimed are remembered (bounded, the
 * older half forgotten at once); any other id is found by asking every domain, one
 * pipelined EXISTS each — operator reads, not the hot path. This saves a global id index,
 * which would be one more write per command on a key outside the domain's slot.
 *
 * The memory is two generations of Maps: new ids go into the young one, and when it is
 * full the old one is dropped whole and the young one takes its place. Evicting one oldest
 * entry per insert instead (`map.keys().next()` then `delete`) looked O(1) but was not:
 * V8 leaves a deleted Map entry as a hole until the table is rebuilt, and every
 * `keys().next()` walks the holes from the front, so once full, each claim of a few
 * hundred commands scanned up to the whole table; a 60 s run at full speed fell to a
 * third of its rate.
 */
export class CommandLocator {
  private young = new Map<string, string>();
  private old = new Map<string, string>();

  constructor(
    private readonly client: Redis,
    private readonly global: GlobalKeys,
    private readonly keysOf: (domain: string) => DomainKeys,
    /** Ids remembered at least; up to twice as many are kept. */
    private readonly capacity = 50_000,
  ) {}

  remember(id: string, domain: string): void {
    if (this.young.size >= this.capacity) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(id, domain);
  }

  forget(id: string): void {
    this.young.delete(id);
    this.old.delete(id);
  }

  /** The remembered domain, without asking Redis. */
  cached(id: string): string | undefined {
    return this.young.get(id) ?? this.old.get(id);
  }

  async find(id: string): Promise<string | null> {
    const cached = this.cached(id);
    if (cached !== undefined) return cached;
    const domains = await this.client.smembers(this.global.domains);
    if (domains.length === 0) return null;
    const pipeline = this.client.pipeline();
    for (const domain of domains) pipeline.exists(this.keysOf(domain).command(id));
    const replies = (await pipeline.exec()) ?? [];
    for (let i = 0; i < domains.length; i++) {
      const [error, exists] = replies[i] ?? [null, 0];
      if (error) throw error;
      if (exists === 1) {
        this.remember(id, domains[i]!);
        return domains[i]!;
      }
    }
    return null;
  }
}
