import type { Logger } from 'pino';
import type { Backend, Lease } from '../backends/backend.js';

/**
 * Keeps this worker's leases alive: every third of the lease, one statement renews all
 * of them, buffered and running. A lease the store no longer recognises (it expired and
 * was reclaimed) is reported so its run can be abandoned.
 *
 * It also watches the leases by the local clock. When no renewal has got through for a
 * whole lease (the store is down, or the network to it is cut and calls hang unanswered),
 * every lease held is certainly expired at the store, which may already have given the
 * commands to another worker: they are all reported expired at once, without waiting for
 * the store to say so, so their runs stop before another attempt starts.
 */
export class LeaseKeeper {
  private timer: NodeJS.Timeout | null = null;
  private expiryTimer: NodeJS.Timeout | null = null;
  /**
   * A local time no later than the start of any lease held now (a claim or renewal that
   * the store answered): every lease held expires at the store at this plus leaseMs or
   * later. The store starts a lease when it runs the call, never before the call is sent,
   * so send times make the bound, whatever the two clocks read.
   */
  private leasesSince = Date.now();

  constructor(
    private readonly backend: Backend,
    private readonly leaseMs: number,
    private readonly logger: Logger,
    private readonly held: () => Lease[],
    private readonly onLost: (id: string, leaseToken: string) => void,
    /** When the claim on its way to the store was sent, if one is. */
    private readonly claimSentAt: () => number | null = () => null,
    /** Every lease held has expired by the local clock: abandon all of them. */
    private readonly onExpired: () => void = () => {},
  ) {}

  start(): void {
    this.leasesSince = Date.now();
    this.timer = setInterval(
      () => {
        this.checkExpiry();
        void this.renewAll();
      },
      Math.max(50, this.leaseMs / 3),
    );
    this.timer.unref();
    this.armExpiry();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.timer = null;
    this.expiryTimer = null;
  }

  /** The earliest a lease held now may have expired at the store (local clock). */
  get expiresAt(): number {
    return this.leasesSince + this.leaseMs;
  }

  /**
   * Checks the leases the moment they may expire, rather than at the next renewal tick,
   * which can come up to a third of a lease later: by then another worker may have
   * started the same commands.
   */
  private armExpiry(): void {
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = setTimeout(
      () => {
        this.expiryTimer = null;
        this.checkExpiry();
      },
      Math.max(0, this.expiresAt - Date.now()),
    );
    this.expiryTimer.unref();
  }

  /** The oldest moment a lease held from now on may have started: `at`, or an older claim's send. */
  private since(at: number): number {
    return Math.min(at, this.claimSentAt() ?? at);
  }

  private checkExpiry(): void {
    const now = Date.now();
    if (this.timer === null || now < this.expiresAt) return;
    if (this.held().length > 0) {
      this.logger.error(
        { leaseMs: this.leaseMs, sinceLastRenewalMs: now - this.leasesSince },
        'no lease renewal has reached the store for a whole lease: abandoning every command held, another worker will take them over',
      );
      this.onExpired();
    }
    // What was held is given up; leases held from now on are claimed from now on.
    this.leasesSince = this.since(now);
  }

  private async renewAll(): Promise<void> {
    const sentAt = this.since(Date.now());
    const held = this.held().map((c) => ({ id: c.id, leaseToken: c.leaseToken, domain: c.domain }));
    if (held.length === 0) {
      this.confirm(sentAt);
      return;
    }
    try {
      const { lost } = await this.backend.renewLeases({ leases: held, leaseMs: this.leaseMs });
      this.confirm(sentAt);
      const tokens = new Map(held.map((c) => [c.id, c.leaseToken]));
      for (const id of lost) this.onLost(id, tokens.get(id)!);
    } catch (error) {
      this.logger.warn({ err: error }, 'cannot renew leases; will try again');
    }
  }

  /** Every lease held at `sentAt` was renewed then (or none was held). */
  private confirm(sentAt: number): void {
    if (sentAt <= this.leasesSince) return;
    this.leasesSince = sentAt;
    this.armExpiry();
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
