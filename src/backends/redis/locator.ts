import type { Redis } from 'ioredis';
import type { DomainKeys, GlobalKeys } from './keys.js';

/**
 * Which domain holds a command. Command keys carry their domain's hash tag (so one script
 * can move a command and its domain's queues atomically), but the contract names a
 * command by id alone. Ids this process sent or claimed are remembered (bounded, oldest
 * forgotten first); any other id is found by asking every domain, one pipelined EXISTS
 * each — operator reads, not the hot path. This saves a global id index, which would be
 * one more write per command on a key outside the domain's slot.
 */
export class CommandLocator {
  private readonly known = new Map<string, string>();

  constructor(
    private readonly client: Redis,
    private readonly global: GlobalKeys,
    private readonly keysOf: (domain: string) => DomainKeys,
    private readonly capacity = 200_000,
  ) {}

  remember(id: string, domain: string): void {
    if (this.known.size >= this.capacity && !this.known.has(id)) {
      const oldest = this.known.keys().next().value;
      if (oldest !== undefined) this.known.delete(oldest);
    }
    this.known.set(id, domain);
  }

  forget(id: string): void {
    this.known.delete(id);
  }

  /** The remembered domain, without asking Redis. */
  cached(id: string): string | undefined {
    return this.known.get(id);
  }

  async find(id: string): Promise<string | null> {
    const cached = this.known.get(id);
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
