import type { ClaimedCommand } from '../core/command.js';
import { LeaseLostError } from '../core/errors.js';
import type { Lease } from '../backends/backend.js';
import type { Run } from './attempt.js';
import { leaseOf } from './outcomes.js';
import type { WorkerEventSource } from './event-source.js';
import type { ParkedCommands } from './parking.js';
import type { RunningSet } from './running.js';

/** What a worker holds under lease, shared with it (the same arrays and sets, not copies). */
export interface HeldCommands {
  readonly active: RunningSet<Run>;
  /** Claimed, not yet started. */
  readonly buffer: ClaimedCommand[];
  /** Held for a rate-limit token (parking.ts). */
  readonly parking: ParkedCommands;
  readonly source: WorkerEventSource;
  /** The worker's 'leasesExpired' event, once every lease is gone. */
  leasesExpired(counts: { running: number; buffered: number }): void;
  /** Lets the claim loop look for work again: the dropped commands freed room. */
  nudge(): void;
  /** Renews one lease now; false when it was lost (LeaseKeeper.renewOne). */
  renewOne(lease: Lease): Promise<boolean>;
}

/**
 * A worker's answer to lost leases: the run holding a lost lease is aborted and its outcome
 * never written, and a command held unstarted is dropped. The store gives those commands
 * to another worker when their leases run out there, so nothing here writes to the store.
 */
export class LeaseLoss {
  constructor(private readonly held: HeldCommands) {}

  /** Every command whose lease the worker renews: buffered, parked, and running unabandoned. */
  commands(): ClaimedCommand[] {
    const { buffer, parking, active } = this.held;
    return [
      ...buffer,
      ...parking.commands(),
      ...active
        .list()
        .filter((a) => !a.abandoned)
        .map((a) => a.command),
    ];
  }

  /** Abandons the run holding `leaseToken` on `id` (not a newer run of the same command). */
  lose(id: string, leaseToken: string): void {
    const { active, parking, buffer, source } = this.held;
    const run = active.find(id, leaseToken);
    if (run && !run.abandoned) this.loseRun(run);
    const held = (c: ClaimedCommand) => c.id === id && c.leaseToken === leaseToken;
    // the held command is looked up only for a listener: dropping it needs the id alone
    const parked = source.listening('leaseLost') ? parking.commands().find(held) : null;
    if (parking.drop(id, leaseToken) && parked) source.leaseLost(parked, null);
    const index = buffer.findIndex(held);
    if (index >= 0) source.leaseLost(buffer.splice(index, 1)[0]!, null);
  }

  /** A handler's heartbeat: renews its lease now, or abandons the run and throws. */
  async heartbeat(run: Run): Promise<void> {
    const { command } = run;
    if (await this.held.renewOne(leaseOf(command))) return;
    if (!run.abandoned) this.loseRun(run);
    throw new LeaseLostError(command.id);
  }

  /** Aborts a run whose lease is gone; its outcome will not be written. */
  loseRun(run: Run): void {
    run.abandoned = true;
    run.controller.abort(new LeaseLostError(run.command.id));
    this.held.source.leaseLost(run.command, run.startedAt);
  }

  /**
   * Every lease held has expired by the local clock with no renewal getting through (the
   * store is away or cut off): the running handlers are aborted and their outcomes not
   * written, and the buffered and held commands are dropped unstarted. Their leases run out at the
   * store, which gives the commands to another worker (or to this one once it is back).
   */
  loseAll(): void {
    const { active, parking, buffer, source } = this.held;
    const running = active.list().filter((a) => !a.abandoned);
    for (const run of running) this.loseRun(run);
    // commands held for a rate-limit token are dropped with the buffered ones
    const dropped = [...buffer.splice(0), ...parking.drain()];
    for (const command of dropped) source.leaseLost(command, null);
    this.held.leasesExpired({ running: running.length, buffered: dropped.length });
    this.held.nudge();
  }
}
