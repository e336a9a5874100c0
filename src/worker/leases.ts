import type { Logger } from 'pino';
import type { Backend, Lease } from '../backends/backend.js';
import { logFailure } from './log-safely.js';

/**
 * Keeps this worker's leases alive: every third of the lease, one statement renews all
 * of them, buffered and running. A lease the store no longer recognises (it expired and
 * was reclaimed) is reported so its run can be abandoned.
 */
export class LeaseKeeper {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly backend: Backend,
    private readonly leaseMs: number,
    private readonly logger: Logger,
    private readonly held: () => Lease[],
    private readonly onLost: (id: string, leaseToken: string) => void,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.renewAll(), Math.max(50, this.leaseMs / 3));
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Runs from a timer without being awaited, so it never rejects. */
  private async renewAll(): Promise<void> {
    try {
      const held = this.held().map((c) => ({
        id: c.id,
        leaseToken: c.leaseToken,
        domain: c.domain,
      }));
      if (held.length === 0) return;
      const { lost } = await this.backend.renewLeases({ leases: held, leaseMs: this.leaseMs });
      const tokens = new Map(held.map((c) => [c.id, c.leaseToken]));
      for (const id of lost) this.onLost(id, tokens.get(id)!);
    } catch (error) {
      logFailure(this.logger, 'warn', {}, error, 'cannot renew leases; will try again');
    }
  }

  /** Renews one lease now (a handler's heartbeat); false when it was lost. */
  async renewOne(lease: Lease): Promise<boolean> {
    const { lost } = await this.backend.renewLeases({
      leases: [{ id: lease.id, leaseToken: lease.leaseToken, domain: lease.domain }],
      leaseMs: this.leaseMs,
    });
    return lost.length === 0;
  }
}
