/**
 * Commands whose rate limit had no token for them, held by the worker until the next
 * token is due, instead of being sent back to the store and claimed again.
 *
 * Sending a refused command back costs a settle, an audit row and, later, a claim: with
 * 600 commands behind a 20/s bucket that churn took 10-35 round trips per granted token
 * and slowed every other command of the store to a quarter of its rate. A parked command
 * keeps its lease (the worker renews it with the others) and holds no worker slot; when
 * its wait is over it is dispatched again and asks for its token.
 *
 * While a handler whose buckets are all named (one bucket for every command of the type)
 * has commands parked here, the worker does not claim more of that type (`skippedTypes`):
 * they would only wait behind these. Buckets per tenant (a key function) cannot say that
 * for a whole type, so their commands are parked up to `max` and sent back beyond it.
 */
import type { ClaimedCommand } from '../core/command.js';
import type { RegisteredHandler } from '../core/registry.js';

/** The longest wait worth parking for; a longer one goes back to the store. */
export const MAX_PARK_MS = 2000;

interface Parked {
  command: ClaimedCommand;
  handler: RegisteredHandler;
  timer: NodeJS.Timeout;
}

export class ParkedCommands {
  private readonly parked = new Map<string, Parked>();
  /** Parked commands per domain and type, only for handlers whose buckets are all named. */
  private readonly skipped = new Map<string, Map<string, number>>();

  constructor(
    private readonly max: number,
    /**
     * Called with a command whose wait is over; `typeFreed` when it was the last parked
     * command of a skipped type, so claims may take that type again.
     */
    private readonly due: (command: ClaimedCommand, typeFreed: boolean) => void,
  ) {}

  get size(): number {
    return this.parked.size;
  }

  /** Parks a command for `delayMs`; false when it should go back to the store instead. */
  park(command: ClaimedCommand, handler: RegisteredHandler, delayMs: number): boolean {
    if (delayMs > MAX_PARK_MS || this.parked.size >= this.max) return false;
    const key = leaseKey(command);
    const timer = setTimeout(() => {
      const p = this.take(key);
      if (p) this.due(command, allNamed(p.handler) && !this.skips(p.handler));
    }, delayMs);
    timer.unref();
    this.parked.set(key, { command, handler, timer });
    if (allNamed(handler)) this.count(handler, 1);
    return true;
  }

  /** The types a claim should leave out now, by domain (none: an empty map). */
  skippedTypes(domain: string): ReadonlyMap<string, number> | undefined {
    return this.skipped.get(domain);
  }

  commands(): ClaimedCommand[] {
    return [...this.parked.values()].map((p) => p.command);
  }

  /** Forgets a parked command (its lease was lost); true if it was parked. */
  drop(id: string, leaseToken: string): boolean {
    const key = `${id}:${leaseToken}`;
    const p = this.parked.get(key);
    if (p) clearTimeout(p.timer);
    return this.take(key) !== null;
  }

  /** Takes every parked command out (shutdown), to be handed back. */
  drain(): ClaimedCommand[] {
    const all = [...this.parked.keys()];
    return all.flatMap((key) => {
      const p = this.parked.get(key)!;
      clearTimeout(p.timer);
      this.take(key);
      return [p.command];
    });
  }

  private skips(handler: RegisteredHandler): boolean {
    return this.skipped.get(handler.domain)?.has(handler.type) ?? false;
  }

  private take(key: string): Parked | null {
    const p = this.parked.get(key);
    if (!p) return null;
    this.parked.delete(key);
    if (allNamed(p.handler)) this.count(p.handler, -1);
    return p;
  }

  private count(handler: RegisteredHandler, by: number): void {
    let types = this.skipped.get(handler.domain);
    if (!types) this.skipped.set(handler.domain, (types = new Map<string, number>()));
    const n = (types.get(handler.type) ?? 0) + by;
    if (n > 0) types.set(handler.type, n);
    else types.delete(handler.type);
    if (types.size === 0) this.skipped.delete(handler.domain);
  }
}

function leaseKey(command: ClaimedCommand): string {
  return `${command.id}:${command.leaseToken}`;
}

function allNamed(handler: RegisteredHandler): boolean {
  const limits = handler.limits;
  return !!limits && limits.rateLimits.every((r) => typeof r.key === 'string');
}
