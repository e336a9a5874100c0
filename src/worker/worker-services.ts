import type { Logger } from 'pino';
import type { Backend } from '../backends/backend.js';
import { BatchFinisher, builtinServices } from './maintenance.js';
import type { WorkerOptions } from './options.js';
import { WorkerRegistration, type WorkerSelf } from './registry-refresh.js';
import { ServiceRunner } from './services.js';
import { ThroughputSampler } from './throughput.js';

export interface WorkerServicesDeps {
  backend: Backend;
  logger: Logger;
  workerId: string;
  leaseMs: number;
  retentionMs: number;
  /** The options that switch services on and off, and the application's own services. */
  options: Pick<WorkerOptions, 'maintenance' | 'registration' | 'samples' | 'services' | 'random'>;
  /** Leases recovered by the built-in lease recovery (the worker's event). */
  onRecovered: (count: number) => void;
  /** The worker's registry record as it is now. */
  self: () => WorkerSelf;
}

/**
 * What a worker runs beside its handlers: the built-in maintenance, its record in the
 * worker registry, its throughput samples, the batch finisher, and the application's own
 * services; and the order they start and stop in. The registry record is written before
 * the worker claims anything and marked stopped last, after every other write is over.
 */
export class WorkerServices {
  /** The worker's registry record; null with `registration: false`. */
  readonly registration: WorkerRegistration | null;
  /** Finishes the batches this worker's settles touched; null with `maintenance: false`. */
  readonly batches: BatchFinisher | null;
  /** Counts outcomes per domain and writes them as throughput samples; null with `samples: false`. */
  readonly samples: ThroughputSampler | null;
  private readonly runner: ServiceRunner;
  private readonly self: () => WorkerSelf;

  constructor(deps: WorkerServicesDeps) {
    const { backend, logger, options: o } = deps;
    this.self = deps.self;
    const builtin =
      o.maintenance === false
        ? []
        : builtinServices(backend, logger, {
            leaseMs: deps.leaseMs,
            retentionMs: deps.retentionMs,
            onRecovered: deps.onRecovered,
          });
    this.registration =
      o.registration === false
        ? null
        : new WorkerRegistration(backend.workers, logger, o.registration ?? {}, deps.self);
    this.batches = o.maintenance === false ? null : new BatchFinisher(backend, logger);
    this.samples = o.samples === false ? null : new ThroughputSampler(backend.samples, logger);
    this.runner = new ServiceRunner(
      [
        ...builtin,
        ...(this.registration ? [this.registration.service] : []),
        ...(this.samples ? [this.samples.service] : []),
        ...(o.services ?? []),
      ],
      { backend, workerId: deps.workerId, logger, random: o.random },
    );
  }

  /** Writes the worker's first registry record (before it claims anything). */
  async register(): Promise<void> {
    await this.registration?.start();
  }

  start(): void {
    this.samples?.start();
    this.runner.start();
  }

  /**
   * Stops the services (waiting up to `timeoutMs` for runs under way), then the batch
   * finisher and the samples, and marks the worker stopped with its final counters.
   */
  async stop(timeoutMs: number): Promise<void> {
    await this.runner.stop(timeoutMs);
    await this.batches?.stop();
    // after the outcomes are written and counted, and the services' own write is over
    await this.samples?.stop();
    const { id, counters } = this.self();
    await this.registration?.stop(id, { ...counters });
  }
}
