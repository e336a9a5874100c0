import type { Logger } from 'pino';
import type { Backend } from '../backends/backend.js';
import { ConfigurationError } from '../core/errors.js';
import { logFailure } from '../core/log-safely.js';

/**
 * A periodic job a worker runs beside its commands: housekeeping of the store (the
 * built-in ones are in maintenance.ts), the worker registry's refresh, an application's
 * own. Pass an application's with the worker option `services`.
 */
export interface MaintenanceService {
  /** Unique among a worker's services; appears in logs and in the store-wide lease key. */
  readonly name: string;
  readonly everyMs: number;
  /** Each wait is everyMs plus a random 0..jitterMs, so many workers do not run in step. */
  readonly jitterMs?: number | undefined;
  /** 'store': one worker of the whole store runs it at a time (holds a lease in the store); 'worker': every worker runs its own. */
  readonly scope: 'store' | 'worker';
  /**
   * One run. `signal` aborts when the worker stops, or when a 'store' service's lease was
   * lost to another worker: stop soon after. What it throws is logged and the service runs
   * again at its next turn.
   */
  run(signal: AbortSignal): Promise<unknown>;
}

/** Letters, digits and `_ . : -`, as domain and type names: no `/`, so lease keys cannot collide. */
const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

/**
 * The store-wide lease of a 'store' service: a concurrency slot of limit 1. Rate-limit
 * caps are keyed `domain/type`, one `/`; two make this key one no cap can have.
 */
export function serviceLeaseKey(name: string): string {
  return `dispatchbox/maintenance/${name}`;
}

/**
 * How long a 'store' service's lease outlives its holder's last renewal. The holder
 * renews at every turn and every third of this while it runs, so a lease is lost only if
 * the holder misses about two turns in a row; a worker that crashed is replaced within
 * this time plus one turn. At least a second, so a pause of the holder's event loop (a
 * garbage collection, a busy moment) does not hand the service to another.
 */
export function serviceLeaseMs(service: MaintenanceService): number {
  return Math.max(1000, 3 * (service.everyMs + (service.jitterMs ?? 0)));
}

/** Throws a ConfigurationError naming the first service that is not well formed. */
export function checkServices(services: readonly MaintenanceService[]): void {
  const names = new Set<string>();
  services.forEach((s, i) => {
    const at = `worker service ${i} (${typeof s?.name === 'string' ? s.name : 'unnamed'})`;
    if (typeof s !== 'object' || s === null)
      throw new ConfigurationError(`${at} must be an object with name, everyMs, scope and run`);
    if (typeof s.name !== 'string' || !SERVICE_NAME.test(s.name))
      throw new ConfigurationError(
        `${at}: name must be 1-128 letters, digits or _ . : - (starting with a letter or digit)`,
      );
    if (names.has(s.name))
      throw new ConfigurationError(
        `${at}: another service of this worker is named ${s.name}; names must be unique (the built-in ones are lease-recovery, batch-sweep, prune, tidy, worker-registry and throughput-samples)`,
      );
    names.add(s.name);
    if (typeof s.everyMs !== 'number' || !Number.isFinite(s.everyMs) || s.everyMs <= 0)
      throw new ConfigurationError(
        `${at}: everyMs must be a positive number; got ${String(s.everyMs)}`,
      );
    const jitter = s.jitterMs;
    if (
      jitter !== undefined &&
      (typeof jitter !== 'number' || !Number.isFinite(jitter) || jitter < 0)
    )
      throw new ConfigurationError(`${at}: jitterMs must be zero or more; got ${String(jitter)}`);
    if (s.scope !== 'store' && s.scope !== 'worker')
      throw new ConfigurationError(
        `${at}: scope must be 'store' (one worker of the store at a time) or 'worker' (every worker); got ${String(s.scope)}`,
      );
    if (typeof s.run !== 'function')
      throw new ConfigurationError(`${at}: run must be a function (signal) => Promise`);
  });
}

export interface ServiceRunnerOptions {
  backend: Pick<Backend, 'acquireSlot' | 'releaseSlot'>;
  /** Holds the leases of 'store' services. */
  workerId: string;
  logger: Logger;
  /** 0 <= random() < 1, for the jitter. */
  random?: (() => number) | undefined;
}

/** One service's turns in this worker. */
interface Turns {
  readonly service: MaintenanceService;
  readonly leaseMs: number;
  timer: NodeJS.Timeout | null;
  /** The run under way (with its lease check); the next turn is set when it ends. */
  current: Promise<void> | null;
  controller: AbortController | null;
  /** This worker held the store-wide lease at its last look ('store' services). */
  holding: boolean;
}

/**
 * Runs a worker's services, each on its own timer: a turn waits everyMs plus jitter
 * after the last run ended, so a service never overlaps itself. A 'store' service first
 * takes (or renews) its lease in the store, and skips the turn if another worker holds
 * it; the holder keeps it from turn to turn, so the service runs once per turn in the
 * whole store, and another worker takes over when the holder stops (it releases) or dies
 * (the lease expires, serviceLeaseMs).
 */
export class ServiceRunner {
  private readonly turns: Turns[];
  private stopped = true;

  constructor(
    services: readonly MaintenanceService[],
    private readonly o: ServiceRunnerOptions,
  ) {
    checkServices(services);
    this.turns = services.map((service) => ({
      service,
      leaseMs: serviceLeaseMs(service),
      timer: null,
      current: null,
      controller: null,
      holding: false,
    }));
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    for (const turns of this.turns) this.schedule(turns);
  }

  private schedule(turns: Turns): void {
    if (this.stopped) return;
    const { everyMs, jitterMs } = turns.service;
    const wait = everyMs + (jitterMs ? (this.o.random ?? Math.random)() * jitterMs : 0);
    turns.timer = setTimeout(() => {
      turns.timer = null;
      turns.current = this.turn(turns).finally(() => {
        turns.current = null;
        this.schedule(turns);
      });
    }, wait);
    turns.timer.unref();
  }

  /** One turn; never rejects (it runs from a timer, awaited by no one until stop). */
  private async turn(turns: Turns): Promise<void> {
    const { service } = turns;
    const controller = new AbortController();
    turns.controller = controller;
    let renewal: NodeJS.Timeout | null = null;
    try {
      if (service.scope === 'store') {
        if (!(await this.lease(turns)) || this.stopped) return;
        renewal = setInterval(() => void this.renew(turns, controller), turns.leaseMs / 3);
        renewal.unref();
      }
      // an application's run may throw before it returns a promise
      await Promise.resolve().then(() => service.run(controller.signal));
    } catch (error) {
      logFailure(
        this.o.logger,
        'warn',
        { service: service.name },
        error,
        `maintenance service ${service.name} failed; it runs again at its next turn`,
      );
    } finally {
      if (renewal) clearInterval(renewal);
      turns.controller = null;
    }
  }

  /** Takes or renews the service's lease; false when another worker holds it. */
  private async lease(turns: Turns): Promise<boolean> {
    const held = await this.o.backend.acquireSlot({
      key: serviceLeaseKey(turns.service.name),
      limit: 1,
      holder: this.o.workerId,
      leaseMs: turns.leaseMs,
    });
    if (held !== turns.holding) {
      const fields = { service: turns.service.name, workerId: this.o.workerId };
      try {
        if (held) this.o.logger.info(fields, 'this worker now runs a store-wide service');
        else this.o.logger.info(fields, 'another worker now runs a store-wide service');
      } catch {
        // a logger that fails changes nothing about the lease
      }
    }
    turns.holding = held;
    return held;
  }

  /** During a long run: keeps the lease, or aborts the run once another worker has it. */
  private async renew(turns: Turns, controller: AbortController): Promise<void> {
    try {
      if (!(await this.lease(turns)))
        controller.abort(new Error(`lease of maintenance service ${turns.service.name} lost`));
    } catch (error) {
      // the store is away; the run most likely fails too, and the next renewal tries again
      logFailure(
        this.o.logger,
        'warn',
        { service: turns.service.name },
        error,
        'cannot renew the lease of a store-wide service; retrying',
      );
    }
  }

  /**
   * Stops the timers, aborts the runs under way and waits for them until `timeoutMs`, then
   * releases the leases held, so another worker takes over at its next turn. A lease whose
   * run is still going is left to expire: its run may still touch the store.
   */
  async stop(timeoutMs = Number.POSITIVE_INFINITY): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const turns of this.turns) {
      if (turns.timer) clearTimeout(turns.timer);
      turns.timer = null;
      turns.controller?.abort(new Error('worker stopping'));
    }
    const running = this.turns.filter((t) => t.current !== null);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled(running.map((t) => t.current ?? Promise.resolve())),
      new Promise<void>((resolve) => {
        if (Number.isFinite(timeoutMs)) timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    const unfinished = running.filter((t) => t.current !== null).map((t) => t.service.name);
    if (unfinished.length > 0)
      logFailure(
        this.o.logger,
        'warn',
        { services: unfinished },
        new Error(`still running after ${timeoutMs} ms`),
        'maintenance services still running at shutdown; their leases will expire',
      );
    const release = this.turns.filter((t) => t.holding && t.current === null);
    await Promise.all(
      release.map(async (turns) => {
        turns.holding = false;
        await this.o.backend
          .releaseSlot({ key: serviceLeaseKey(turns.service.name), holder: this.o.workerId })
          .catch((error: unknown) =>
            logFailure(
              this.o.logger,
              'warn',
              { service: turns.service.name },
              error,
              'cannot release the lease of a store-wide service; it expires by itself',
            ),
          );
      }),
    );
  }
}
