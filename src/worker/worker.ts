import { EventEmitter } from 'node:events';
import type { Backend, SettleResult, Settlement } from '../backends/backend.js';
import type { ClaimedCommand } from '../core/command.js';
import { sleep } from './backoff.js';
import { Completer } from './completer.js';
import type { ExecutionHost } from './execute.js';
import { newRun, runAttempt, settleAttempt, type AttemptEnv, type Run } from './attempt.js';
import { WorkerEventSource, type WorkerEvents } from './event-source.js';
import { ClaimLoop, claimPlan } from './claim-loop.js';
import { leaseOf } from './outcomes.js';
import { commandLogFields } from '../core/log-fields.js';
import { logFailure } from '../core/log-safely.js';
import { LeaseKeeper } from './leases.js';
import { AdaptivePrefetch } from './prefetch.js';
import { HandlerRuns, RunningSet } from './running.js';
import { LeaseLoss } from './lease-loss.js';
import { ParkedCommands } from './parking.js';
import { WorkerServices } from './worker-services.js';
import {
  noStats,
  resolveWorkerOptions,
  type WorkerDeps,
  type WorkerOptions,
  type WorkerStats,
} from './options.js';

export type { WorkerDeps, WorkerOptions, WorkerStats, WorkerEvents };
import { LimitGate, WakeSchedule } from '../ratelimit/index.js';

/**
 * Claims commands in batches into a small local buffer, runs their handlers with a
 * concurrency limit, renews leases, and writes every outcome through one batched path.
 */
export class Worker extends EventEmitter {
  /** Names this worker in claims and in the audit trail (host, pid and a random part). */
  readonly workerId: string;
  /**
   * What this worker did since it started: attempts started and their outcomes. Counted
   * from the same calls that emit `events`, so each equals its event's count.
   */
  readonly stats: WorkerStats = noStats();
  /**
   * Typed events of every attempt and outcome: `worker.events.on('completed', (e) => …)`.
   * Free while nobody listens; a listener that throws is logged (core/events.ts).
   */
  readonly events: WorkerEvents;
  private readonly source: WorkerEventSource;
  private readonly backend: Backend;
  private readonly concurrency: number;
  private readonly prefetch: AdaptivePrefetch | number;
  private readonly claimBatchSize: number;
  private readonly leaseMs: number;
  private readonly pollIntervalMs: number;
  private readonly shutdownTimeoutMs: number;
  private readonly completer: Completer;
  private readonly leases: LeaseKeeper;
  /** Aborts and drops what a lost lease covered (lease-loss.ts). */
  private readonly lost: LeaseLoss;
  /** Maintenance, registry record, samples, batch finisher (worker-services.ts). */
  private readonly services: WorkerServices;
  private readonly maxUnwrittenOutcomes: number;
  /** The domains this worker claims, once started (its registry record). */
  private claimedDomains: string[] = [];
  private readonly limits: LimitGate;
  private readonly wakes: WakeSchedule;
  private readonly buffer: ClaimedCommand[] = [];
  /** Rate-limited commands held until their next token is due (parking.ts). */
  private readonly parking: ParkedCommands;
  private readonly active = new RunningSet<Run>();
  /** Runs per handler with a concurrency of its own. */
  private readonly runningPerHandler = new HandlerRuns();
  private readonly host: ExecutionHost;
  private readonly attemptEnv: AttemptEnv;
  private claims: ClaimLoop | null = null;
  private stopping = false;
  private started = false;
  private claiming = false;
  private unsubscribe: (() => Promise<void>) | null = null;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly deps: WorkerDeps & WorkerOptions) {
    super();
    const o = deps;
    this.backend = deps.backend;
    this.host = {
      logger: deps.logger,
      middleware: deps.middleware,
      send: deps.send,
      // every run this host sees is one of this worker's runs
      heartbeat: (run) => this.lost.heartbeat(run as Run),
      rateLimit: (run, key, options) => this.limits.take(key, options, run.controller.signal),
    };
    const resolved = resolveWorkerOptions(o, deps.backend.capabilities.claimBatchSize);
    this.workerId = resolved.workerId;
    this.source = new WorkerEventSource(deps.logger, this.workerId, this.stats);
    this.events = this.source;
    this.concurrency = resolved.concurrency;
    this.claimBatchSize = resolved.claimBatchSize;
    this.prefetch = resolved.prefetch ?? new AdaptivePrefetch(resolved.concurrency, 1000);
    this.leaseMs = resolved.leaseMs;
    this.pollIntervalMs = resolved.pollIntervalMs;
    this.shutdownTimeoutMs = resolved.shutdownTimeoutMs;
    this.completer = new Completer(
      this.backend,
      this.workerId,
      deps.logger,
      (result, settlements) => this.onSettled(result, settlements),
      () => this.checkIdle(),
    );
    this.completer.health = this.source.settleHealth;
    this.parking = new ParkedCommands(Math.max(100, 4 * this.concurrency), (command, freed) => {
      if (this.stopping) return this.handBack(command);
      this.buffer.unshift(command);
      this.dispatch();
      if (freed) this.nudge(true);
    });
    this.lost = new LeaseLoss({
      active: this.active,
      buffer: this.buffer,
      parking: this.parking,
      source: this.source,
      leasesExpired: (counts) => this.emit('leasesExpired', counts),
      nudge: () => this.nudge(),
      renewOne: (lease) => this.leases.renewOne(lease),
    });
    this.leases = new LeaseKeeper(
      this.backend,
      this.leaseMs,
      deps.logger,
      () => this.lost.commands(),
      (id, leaseToken) => this.lost.lose(id, leaseToken),
      () => this.lost.loseAll(),
    );
    this.wakes = new WakeSchedule(() => this.nudge(true));
    this.limits = new LimitGate({
      backend: this.backend,
      catalog: deps.registry.rateLimits,
      logger: deps.logger,
      leaseMs: this.leaseMs,
      random: o.random,
    });
    this.maxUnwrittenOutcomes = resolved.maxUnwrittenOutcomes;
    this.attemptEnv = {
      backend: this.backend,
      workerId: this.workerId,
      limits: this.limits,
      events: this.source,
      logger: deps.logger,
      tracing: deps.tracing ?? true,
      random: o.random,
      hold: (run, delayMs) =>
        !this.stopping && this.parking.park(run.command, run.handler, delayMs),
      wakeAt: (delayMs) => this.wakes.at(delayMs),
      queue: (settlement, run) => this.queue(settlement, run.command, run),
    };
    this.services = new WorkerServices({
      backend: this.backend,
      logger: deps.logger,
      workerId: this.workerId,
      leaseMs: this.leaseMs,
      retentionMs: resolved.retentionMs,
      options: o,
      onRecovered: (count) => this.source.leasesRecovered(count),
      self: () => ({
        id: this.workerId,
        domains: this.claimedDomains,
        types: this.deps.types ?? null,
        concurrency: this.concurrency,
        counters: { ...this.stats },
      }),
    });
    this.source.samples = this.services.samples;
  }

  /**
   * True from the end of start() until stop() is called: the worker claims and runs
   * commands (what a readiness probe asks).
   */
  get running(): boolean {
    return this.claiming;
  }

  /** The domains this worker claims from; empty until it has started. */
  get domains(): readonly string[] {
    return this.claimedDomains;
  }

  /** Starts claiming. Resolves once the worker listens for wake-ups. */
  async start(): Promise<this> {
    if (this.started) return this;
    const plan = claimPlan(this.deps.registry, this.deps.domains, this.deps.types);
    const claims = new ClaimLoop({
      backend: this.backend,
      workerId: this.workerId,
      leaseMs: this.leaseMs,
      pollIntervalMs: this.pollIntervalMs,
      claimBatchSize: this.claimBatchSize,
      logger: this.deps.logger,
      plan,
      room: () => this.room(),
      onClaimed: (commands, sentAt) => this.onClaimed(commands, sentAt),
      onRoundDone: () => this.checkIdle(),
      backlog: { outcomes: this.completer, max: this.maxUnwrittenOutcomes },
      health: this.source.claimHealth,
      skippedTypes: (domain) => this.parking.skippedTypes(domain),
      registeredTypes: (domain) =>
        this.deps.registry
          .all()
          .filter((h) => h.domain === domain)
          .map((h) => h.type),
    });
    this.claims = claims;
    this.started = true;
    if (this.backend.capabilities.wakeups) {
      this.unsubscribe = await this.backend.subscribe((domain) => {
        if (domain === '' || claims.watches(domain)) claims.nudge(true);
      });
    }
    this.leases.start();
    this.claimedDomains = plan.map((p) => p.domain);
    await this.services.register();
    // stop() may have come while it registered: then nothing more starts
    if (!this.stopping) {
      this.services.start();
      claims.start();
      this.claiming = true;
    }
    this.deps.logger.info(
      {
        workerId: this.workerId,
        domains: plan.map((p) => p.domain),
        concurrency: this.concurrency,
      },
      'worker started',
    );
    return this;
  }

  private onClaimed(commands: ClaimedCommand[], sentAt: number): void {
    if (commands.length === 0) return;
    this.source.claimed(commands);
    if (this.leases.claimed(sentAt, this.holding())) this.take(commands);
    else
      void this.leases.confirmLate(commands, () => this.holding()).then((kept) => this.take(kept));
  }

  private holding(): boolean {
    return this.buffer.length > 0 || this.active.size > 0;
  }

  private take(commands: ClaimedCommand[]): void {
    if (this.stopping) {
      for (const command of commands) this.handBack(command);
      return;
    }
    this.buffer.push(...commands);
    this.dispatch();
  }

  /** Resolves when nothing is running, buffered or waiting to be written. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private isIdle(): boolean {
    return (
      !this.claims?.claiming &&
      this.active.size === 0 &&
      this.buffer.length === 0 &&
      this.parking.size === 0 &&
      this.completer.size === 0
    );
  }

  private nudge(wake = false): void {
    this.claims?.nudge(wake);
  }

  /** How many more commands to claim: concurrency plus the prefetch, less what is held. */
  private room(): { room: number; threshold: number } {
    const prefetch = typeof this.prefetch === 'number' ? this.prefetch : this.prefetch.size;
    const target = this.concurrency + prefetch;
    // Wait for a quarter of the target (or half a full claim) to free up: claims of a few
    // rows cost about as much as claims of hundreds, so tiny claims would only load the store.
    const threshold = Math.max(1, Math.min(Math.floor(target / 4), this.claimBatchSize / 2));
    return { room: target - this.active.size - this.buffer.length, threshold };
  }

  private dispatch(): void {
    const buffer = this.buffer;
    while (!this.stopping && this.active.size < this.concurrency && buffer.length > 0) {
      // the head almost always has room: shift() moves the array in place, where
      // splice() would allocate an array for the one command it takes out
      let command: ClaimedCommand | undefined;
      if (this.typeHasRoom(buffer[0]!)) command = buffer.shift();
      else {
        const index = buffer.findIndex((c) => this.typeHasRoom(c));
        if (index < 0) return;
        command = buffer.splice(index, 1)[0];
      }
      this.startCommand(command!);
    }
  }

  private typeHasRoom(command: ClaimedCommand): boolean {
    return this.runningPerHandler.hasRoom(this.deps.registry.get(command.domain, command.type));
  }

  private startCommand(command: ClaimedCommand): void {
    const handler = this.deps.registry.get(command.domain, command.type);
    if (!handler) {
      const error = {
        code: 'UNKNOWN_HANDLER',
        message: `no handler for ${command.domain}/${command.type} in worker ${this.workerId}`,
      };
      this.queue({ kind: 'troubleshoot', ...leaseOf(command), error }, command, null);
      return;
    }
    const run = newRun(command, handler, this.host);
    this.active.add(run);
    this.runningPerHandler.started(handler);
    // execute answers every failure itself; this catch is the last guard of the process
    this.execute(run).catch((error: unknown) =>
      logFailure(
        this.deps.logger,
        'error',
        commandLogFields(command, run.trace),
        error,
        'run failed',
      ),
    );
  }

  /** One attempt: what happened, then what that makes (attempt.ts), then its place freed. */
  private async execute(run: Run): Promise<void> {
    try {
      settleAttempt(run, await runAttempt(run, this.attemptEnv), this.attemptEnv);
    } finally {
      this.finished(run);
    }
  }

  /** Queues a settlement for the completer; `run`: the run it ends, if a handler ran. */
  private queue(settlement: Settlement, command: ClaimedCommand, run: Run | null): void {
    this.source.queued(settlement, command, run);
    this.completer.add(settlement);
  }

  /** After a run, whatever its outcome: frees its place and starts what waits. */
  private finished(run: Run): void {
    const { handler } = run;
    if (typeof this.prefetch !== 'number') this.prefetch.finished();
    this.active.remove(run);
    this.runningPerHandler.finished(handler);
    this.dispatch();
    this.nudge();
    this.checkIdle();
  }

  private onSettled(result: SettleResult, settlements: Settlement[]): void {
    // every settlement is either applied or stale, and stale ones are rare: look those up
    const stale = result.stale.length > 0 ? new Set(result.stale) : null;
    let wakeSelf = false;
    for (const s of settlements) {
      const refused = stale?.has(s.id) ?? false;
      this.source.written(s, refused);
      if (refused) continue;
      if ((s.kind === 'retry' || s.kind === 'release') && s.delayMs === 0) wakeSelf = true;
    }
    if (result.touchedBatchIds.length > 0)
      this.services.batches?.batchesTouched(result.touchedBatchIds);
    try {
      this.emit('settled', result);
    } catch (error) {
      // a listener's failure is the application's; the outcomes are written all the same
      logFailure(this.deps.logger, 'error', {}, error, "a listener of 'settled' threw");
    }
    if (wakeSelf && !this.stopping) this.nudge(true);
    this.checkIdle();
  }

  private checkIdle(): void {
    if (!this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /**
   * Graceful shutdown: stop claiming, hand back what was claimed but not started, let
   * running handlers finish until the deadline, then abort the rest and hand them back
   * too. Nothing handed back spends an attempt.
   */
  async stop(timeoutMs = this.shutdownTimeoutMs): Promise<void> {
    if (!this.started || this.stopping) return;
    this.stopping = true;
    this.claiming = false;
    const deadline = Date.now() + timeoutMs;
    await this.unsubscribe?.().catch(() => {});
    await this.claims?.stop();
    for (const command of this.buffer.splice(0)) this.handBack(command);
    for (const command of this.parking.drain()) this.handBack(command);
    if (this.active.size > 0) {
      const running = this.active.list();
      await Promise.race([
        new Promise<void>((resolve) => this.idleWaiters.push(resolve)),
        sleep(Math.max(0, deadline - Date.now())),
      ]);
      for (const run of running) {
        if (!this.active.has(run) || run.abandoned) continue;
        run.abandoned = true;
        run.controller.abort(new Error('worker shutting down'));
        this.handBack(run.command, run);
      }
    }
    const unwritten = await this.completer.drain(
      Date.now() + Math.max(5000, deadline - Date.now()),
    );
    this.leases.stop();
    this.wakes.stop();
    await this.limits.close();
    await this.services.stop(Math.max(1000, deadline - Date.now()));
    this.deps.logger.info({ workerId: this.workerId, unwritten, ...this.stats }, 'worker stopped');
  }

  private handBack(command: ClaimedCommand, run: Run | null = null): void {
    this.queue(
      { kind: 'release', ...leaseOf(command), delayMs: 0, reason: 'worker shutdown' },
      command,
      run,
    );
  }
}
