import type { Logger } from 'pino';
import type { Backend, Lease } from '../backends/backend.js';
import { logFailure } from '../core/log-safely.js';

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
  /** When the expiry timer fires (local clock), while it is armed. */
  private armedFor: number | null = null;
  /**
   * A local time no later than the start of any lease held now: every lease held expires
   * at the store at this plus leaseMs or later. The store starts a lease when it runs the
   * claim or renewal, never before the call was sent, so send times make the bound,
   * whatever the two clocks read.
   */
  private leasesSince = Date.now();
  /**
   * The renewals on their way, each with the oldest send time of the claims answered
   * meanwhile: those leases were not in the renewal, so it does not vouch for them.
   */
  private readonly renewing = new Set<{ claimedSince: number }>();

  constructor(
    private readonly backend: Backend,
    private readonly leaseMs: number,
    private readonly logger: Logger,
    private readonly held: () => Lease[],
    private readonly onLost: (id: string, leaseToken: string) => void,
    /** Every lease held may have expired by the local clock: abandon all of them. */
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
    this.armedFor = null;
  }

  /** The earliest a lease held now may have expired at the store (local clock). */
  get expiresAt(): number {
    return this.leasesSince + this.leaseMs;
  }

  /**
   * A claim sent at `sentAt` was answered; `holding`: the worker held other leases
   * already. False when the answer took half a lease or more (as one queued through a
   * network cut does): the claim may have run at once and its leases be close to running
   * out, or gone; the caller renews them first (confirmLate).
   */
  claimed(sentAt: number, holding: boolean): boolean {
    if (Date.now() >= sentAt + this.leaseMs / 2) return false;
    this.leasesSince = holding ? Math.min(this.leasesSince, sentAt) : sentAt;
    for (const renewal of this.renewing)
      renewal.claimedSince = Math.min(renewal.claimedSince, sentAt);
    this.armExpiry();
    return true;
  }

  /**
   * Renews the leases of a claim answered late before anything runs: resolves to the
   * commands the store still holds for this worker, their leases now counted from the
   * renewal; to none when the store cannot be reached or the renewal was late too (their
   * leases run out, and the store gives them out again).
   */
  async confirmLate<T extends Lease>(commands: T[], holding: () => boolean): Promise<T[]> {
    const sentAt = Date.now();
    let lost: string[];
    try {
      ({ lost } = await this.backend.renewLeases({
        leases: commands.map((c) => ({ id: c.id, leaseToken: c.leaseToken, domain: c.domain })),
        leaseMs: this.leaseMs,
      }));
    } catch (error) {
      logFailure(
        this.logger,
        'warn',
        {},
        error,
        'cannot renew the leases of a late claim; they will expire',
      );
      return [];
    }
    if (!this.claimed(sentAt, holding())) return [];
    const gone = new Set(lost);
    return commands.filter((c) => !gone.has(c.id));
  }

  /**
   * Checks the leases the moment they may expire, rather than at the next renewal tick,
   * which can come up to a third of a lease later: by then another worker may have
   * started the same commands. A timer that fires no later than the expiry is left alone
   * (it checks, then arms itself for the expiry of then): one timer a lease or so, not
   * one per claim or renewal.
   */
  private armExpiry(): void {
    const at = this.expiresAt;
    if (this.timer === null || (this.armedFor !== null && this.armedFor <= at)) return;
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.armedFor = at;
    this.expiryTimer = setTimeout(
      () => {
        this.expiryTimer = null;
        this.armedFor = null;
        this.checkExpiry();
        this.armExpiry();
      },
      Math.max(0, at - Date.now()),
    );
    this.expiryTimer.unref();
  }

  /** Runs from timers, so it never throws: a throw there would end the process. */
  private checkExpiry(): void {
    const now = Date.now();
    if (this.timer === null || now < this.expiresAt) return;
    try {
      if (this.held().length > 0) {
        const sinceLastRenewalMs = now - this.leasesSince;
        logFailure(
          this.logger,
          'error',
          { leaseMs: this.leaseMs, sinceLastRenewalMs },
          undefined,
          'no lease renewal has reached the store for a whole lease: abandoning every command held, another worker will take them over',
        );
        this.onExpired();
      }
    } catch (error) {
      logFailure(this.logger, 'error', {}, error, 'abandoning expired leases failed');
    }
    // Nothing is held now; the next claim answered sets the bound.
    this.leasesSince = now;
  }

  /** Runs from a timer without being awaited, so it never rejects. */
  private async renewAll(): Promise<void> {
    const renewal = { claimedSince: Number.POSITIVE_INFINITY };
    const sentAt = Date.now();
    try {
      const held = this.held().map((c) => ({
        id: c.id,
        leaseToken: c.leaseToken,
        domain: c.domain,
      }));
      if (held.length === 0) return this.confirm(sentAt);
      this.renewing.add(renewal);
      const { lost } = await this.backend.renewLeases({ leases: held, leaseMs: this.leaseMs });
      this.confirm(Math.min(sentAt, renewal.claimedSince));
      const tokens = new Map(held.map((c) => [c.id, c.leaseToken]));
      for (const id of lost) this.onLost(id, tokens.get(id)!);
    } catch (error) {
      logFailure(this.logger, 'warn', {}, error, 'cannot renew leases; will try again');
    } finally {
      this.renewing.delete(renewal);
    }
  }

  /** Every lease held has been renewed, or claimed, at `since` or later. */
  private confirm(since: number): void {
    if (since <= this.leasesSince) return;
    this.leasesSince = since;
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
