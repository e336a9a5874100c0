import type { Context } from '@opentelemetry/api';
import pino, { type Logger } from 'pino';
import type { AuditRecord, Command, NewCommand } from '../core/command.js';
import type { Handler, Middleware } from '../core/context.js';
import {
  BatchNotFoundError,
  CommandNotFoundError,
  ConfigurationError,
  ValidationError,
} from '../core/errors.js';
import { isUuid } from '../core/ids.js';
import { toJsonText } from '../core/json.js';
import { HandlerRegistry, type HandlerDefaults, type HandlerOptions } from '../core/registry.js';
import type { SendOptions } from '../core/send-options.js';
import { activeTracer, sendSpanEnds, startSendSpan } from '../core/tracing.js';
import type { CommandState } from '../core/states.js';
import type {
  Backend,
  BatchInfo,
  CommandCount,
  OldestPending,
  OperatorAction,
  ThroughputSample,
  TroubleshootingError,
  TroubleshootingErrorsParams,
} from '../backends/backend.js';
import type { WorkerEntry } from '../backends/worker-registry.js';
import { Worker, type WorkerOptions } from '../worker/worker.js';
import { createBatch } from './batches.js';
import { SendCoalescer } from './coalescer.js';
import { operate } from './operator.js';
import {
  publish,
  publishMany,
  type PublishedEvent,
  type PublishItem,
  type PublishOptions,
} from './publish.js';
import { countMatching, troubleshootingErrors } from './reads.js';
import { registerInstance } from './decorators.js';
import { discoverHandlers } from './discover.js';
import { BusEventSource, type BusEvents } from './events.js';
import type {
  CommandFilter,
  CreateBatchOptions,
  ListParams,
  OperatorOptions,
  RetryOptions,
  SendItem,
  TroubleshootingFilter,
} from './params.js';
import { prepareCommand } from './prepare.js';

export type { BusEvents };
export type * from './params.js';
export type { PublishedEvent, PublishItem, PublishOptions };

export interface CommandBusOptions {
  backend: Backend;
  logger?: Logger | undefined;
  /** Refuse sends for which no handler is registered in this bus. Default false. */
  strict?: boolean | undefined;
  /** Largest payload accepted, in bytes of JSON. Default 1 MiB. */
  maxPayloadBytes?: number | undefined;
  /** Options of every worker(); those given to worker() itself win (DISPATCHBOX_* variables). */
  workerDefaults?: WorkerOptions | undefined;
  /** The timeout and attempts of handlers registered without their own. Default 30 s and 5. */
  handlerDefaults?: HandlerDefaults | undefined;
  /**
   * OpenTelemetry spans: a producer span per send and a consumer span per attempt, the
   * trace context carried in the command's headers. They cost nothing until the
   * application installs an SDK. Default true (DISPATCHBOX_TRACING); see docs/tracing.md.
   */
  tracing?: boolean | undefined;
}

/** Sends commands, reads them back, and carries the operator actions. */
export class CommandBus {
  /** The store this bus sends to and reads from. */
  readonly backend: Backend;
  /** The handlers registered on this bus, by domain and type. */
  readonly registry: HandlerRegistry;
  /** The bus's pino logger; workers and handler contexts log through children of it. */
  readonly logger: Logger;
  /** Middleware added with `use`, in order. */
  readonly middleware: Middleware[] = [];
  /** Typed events of what this bus stores: `bus.events.on('sent', (e) => …)`. */
  readonly events: BusEvents;
  private readonly source: BusEventSource;
  /** Sends of a domain and type with no handler are refused (SendChecks). */
  readonly strict: boolean;
  /** Largest payload accepted, in bytes of JSON (SendChecks). */
  readonly maxPayloadBytes: number;
  private readonly coalescer: SendCoalescer;
  private readonly workerDefaults: WorkerOptions;
  private readonly tracing: boolean;

  constructor(options: CommandBusOptions) {
    if (options.tracing !== undefined && typeof options.tracing !== 'boolean') {
      throw new ConfigurationError(
        `the tracing option must be true, false or left out (default true); got ${typeof options.tracing}`,
      );
    }
    this.tracing = options.tracing ?? true;
    this.workerDefaults = options.workerDefaults ?? {};
    this.backend = options.backend;
    this.registry = new HandlerRegistry(options.handlerDefaults);
    // Without a logger of the application's, a library stays quiet: warnings and errors on
    // stderr, never a line on stdout (createDispatchbox passes one from config/logger.ts).
    this.logger =
      options.logger ??
      pino({ name: 'dispatchbox', level: 'warn' }, pino.destination({ dest: 2, sync: true }));
    this.source = new BusEventSource(this.logger);
    this.events = this.source;
    this.strict = options.strict ?? false;
    this.maxPayloadBytes = options.maxPayloadBytes ?? 1024 * 1024;
    this.coalescer = SendCoalescer.of(this.backend);
  }

  // ---- handlers ------------------------------------------------------------------------

  /**
   * Registers the handler of `domain`/`type` (one per pair), with optional
   * HandlerOptions: a zod schema for the payload, timeout, attempts and backoff, its own
   * concurrency, rate limits, `transactional`. Returns the bus, for chaining.
   */
  handle<TData = unknown>(domain: string, type: string, fn: Handler<TData>): this;
  handle<TData = unknown>(
    domain: string,
    type: string,
    options: HandlerOptions,
    fn: Handler<TData>,
  ): this;
  handle(domain: string, type: string, a: HandlerOptions | Handler, b?: Handler): this {
    const [options, fn] = typeof a === 'function' ? [{}, a] : [a, b!];
    this.registry.register(domain, type, options, fn as (data: unknown, ctx: unknown) => unknown);
    return this;
  }

  /** Registers every method of `instance` marked with `@handler(...)`, bound to it. */
  register(instance: object): this {
    registerInstance(this, instance);
    return this;
  }

  /** Imports every handler module in `dir` (one file per command type) and registers it. */
  async discover(dir: string): Promise<string[]> {
    return discoverHandlers(this, dir);
  }

  /** Adds middleware, wrapped around every handler call after the built-in logging and timeout. */
  use(middleware: Middleware): this {
    this.middleware.push(middleware);
    return this;
  }

  // ---- sending -------------------------------------------------------------------------

  /**
   * Sends one command and resolves once it is stored. Validates everything first (a
   * ValidationError stores nothing). With `options.tx`, the command is written in the
   * application's transaction (outbox). A repeated `id` or `idempotencyKey` resolves to
   * the command first sent.
   */
  send(domain: string, type: string, data: unknown, options: SendOptions = {}): Promise<Command> {
    return this.sendIn(undefined, domain, type, data, options);
  }

  /**
   * `send`, its producer span a child of `parent` (a handler's follow-up: the attempt's
   * context) or, when undefined, of the active context.
   */
  private async sendIn(
    parent: Context | undefined,
    domain: string,
    type: string,
    data: unknown,
    options: SendOptions = {},
  ): Promise<Command> {
    const calledAt = performance.now();
    if (typeof options !== 'object' || options === null) {
      throw new ValidationError(
        `options must be an object of send options, or left out; got ${options === null ? 'null' : typeof options}`,
        'options',
      );
    }
    const command = this.prepare({ ...options, domain, type, data });
    const tracer = this.tracer();
    const span = tracer && startSendSpan(tracer, [command], parent);
    if (options.tx) {
      const insert = this.backend.insertCommands({ commands: [command], tx: options.tx });
      const [inserted] = await sendSpanEnds(span, insert);
      this.source.sentOne(inserted!, true, calledAt);
      return inserted!.command;
    }
    const inserted = await sendSpanEnds(span, this.coalescer.send(command));
    this.source.sentOne(inserted, false, calledAt);
    return inserted.command;
  }

  /** The tracer when this bus traces and an SDK is installed; null when not (no cost). */
  private tracer() {
    return this.tracing ? activeTracer() : null;
  }

  /** Sends many commands in one statement: all are stored, or (on error) none. */
  async sendMany(
    items: SendItem[],
    options: { tx?: SendOptions['tx'] | undefined } = {},
  ): Promise<Command[]> {
    const calledAt = performance.now();
    if (!Array.isArray(items)) {
      throw new ValidationError(
        'sendMany takes an array of { domain, type, data, ...options }',
        null,
      );
    }
    if (items.length === 0) return [];
    const commands = items.map((item, i) => this.prepare(item, `[${i}]`));
    // one span for the call, its context in every command: not one span per command
    const tracer = this.tracer();
    const span = tracer && startSendSpan(tracer, commands);
    const insert = this.backend.insertCommands({ commands, tx: options.tx });
    const inserted = await sendSpanEnds(span, insert);
    this.source.sentMany(inserted, options.tx !== undefined, calledAt);
    return inserted.map((r) => r.command);
  }

  /**
   * Validates everything about a send and returns the command to store, without storing
   * it; throws a ValidationError instead. `where` prefixes error messages (`[3]`).
   */
  prepare(item: SendItem, where = ''): NewCommand {
    return prepareCommand(this, item, where);
  }

  // ---- publishing events ---------------------------------------------------------------

  /**
   * Writes an event to the store's outbox for the outbox relay to deliver to `topic`, in
   * the order of `key`; with `options.tx`, in the application's transaction (it exists
   * only if that commits). PostgreSQL and the embedded store; ConfigurationError on Redis.
   */
  publish(
    topic: string,
    key: string,
    data: unknown,
    options: PublishOptions = {},
  ): Promise<PublishedEvent> {
    return publish(this, topic, key, data, options);
  }

  /** Writes many events in one statement: all are stored, or (on error) none. */
  publishMany(
    events: PublishItem[],
    options: { tx?: PublishOptions['tx'] } = {},
  ): Promise<PublishedEvent[]> {
    return publishMany(this, events, options);
  }

  // ---- reading -------------------------------------------------------------------------

  /** The command with this id; CommandNotFoundError when there is none. */
  async get(id: string): Promise<Command> {
    const command = isUuid(id) ? await this.backend.getCommand(id) : null;
    if (!command) throw new CommandNotFoundError(id);
    return command;
  }

  /** The command's audit trail, oldest first: every transition, who made it and why. */
  async audit(id: string): Promise<AuditRecord[]> {
    await this.get(id);
    return this.backend.getAudit(id);
  }

  /** Commands matching `params`, oldest first: at most `limit` (default 100), after `afterId`. */
  list(params: ListParams = {}): Promise<Command[]> {
    return this.backend.admin.listCommands({ ...params, limit: params.limit ?? 100 });
  }

  /** How many commands are in each state, in all domains or in `domain`. */
  countByState(domain?: string): Promise<Record<CommandState, number>> {
    return this.backend.admin.countByState({ domain });
  }

  /**
   * Commands per domain, type and state (zero counts left out), read from counters the
   * store keeps with every transition: its cost does not grow with history.
   */
  counts(domain?: string): Promise<CommandCount[]> {
    return this.backend.admin.countCommands({ domain });
  }

  /**
   * Per domain (or for `domain`), the run time of the earliest command pending and due: its
   * age is how long the queue has waited for a worker. Domains with nothing due are left
   * out. A few index lookups per domain, whatever the depth of the queue.
   */
  oldestPending(domain?: string): Promise<OldestPending[]> {
    return this.backend.admin.oldestPending({ domain });
  }

  /**
   * How many commands match `filter`: what `list` would return without a limit. A filter
   * of state, domain and type is read from the store's counts; one that names an error
   * code walks the matching commands, a page at a time (an operator's question, never the
   * hot path).
   */
  count(filter: CommandFilter = {}): Promise<number> {
    return countMatching(this, filter);
  }

  // ---- troubleshooting -----------------------------------------------------------------

  /** Commands in troubleshooting matching `filter`, oldest first (`list` with that state). */
  listTroubleshooting(filter: TroubleshootingFilter = {}): Promise<Command[]> {
    return this.list({ ...filter, state: 'troubleshooting' });
  }

  /**
   * A page of one domain's troubleshooting queue, oldest first, with each command's error
   * but not its payload or result: what grouping the queue by error needs, read lean where
   * the store can (PostgreSQL and the embedded store).
   */
  troubleshootingErrors(params: TroubleshootingErrorsParams): Promise<TroubleshootingError[]> {
    return troubleshootingErrors(this.backend.admin, params);
  }

  /**
   * Troubleshooting → pending, attempts reset. With `options.data`, the payload is
   * replaced first (edit then retry), checked as a send's is; the audit keeps both.
   */
  async retry(id: string, options: RetryOptions = {}): Promise<Command> {
    if (options.data === undefined) return this.operate(id, { action: 'retry' }, options);
    const command = await this.get(id);
    const { dataJson } = this.prepare({
      domain: command.domain,
      type: command.type,
      data: options.data,
    });
    return this.operate(id, { action: 'retry', dataJson }, options);
  }

  /** Pending or troubleshooting → cancelled. */
  cancel(id: string, options: OperatorOptions = {}): Promise<Command> {
    return this.operate(id, { action: 'cancel' }, options);
  }

  /** Troubleshooting → completed, with the result the operator gives. */
  complete(id: string, result: unknown = null, options: OperatorOptions = {}): Promise<Command> {
    return this.operate(
      id,
      { action: 'complete', resultJson: toJsonText(result, 'result') },
      options,
    );
  }

  private operate(id: string, action: OperatorAction, options: OperatorOptions) {
    return operate(this.backend, id, action, options);
  }

  // ---- batches -------------------------------------------------------------------------

  /** Creates a batch and all its commands atomically (streamed in chunks, one transaction). */
  createBatch(options: CreateBatchOptions): Promise<BatchInfo> {
    return createBatch(
      {
        backend: this.backend,
        source: this.source,
        tracing: this.tracing,
        prepare: (item, where) => this.prepare(item, where),
      },
      options,
    );
  }

  /** A batch's status and its commands' counts by state; BatchNotFoundError when there is none. */
  async getBatch(id: string): Promise<BatchInfo> {
    const batch = isUuid(id) ? await this.backend.getBatch(id) : null;
    if (!batch) throw new BatchNotFoundError(id);
    return batch;
  }

  /** Batches newest first: at most `limit` (default 50), those older than `afterId`. */
  listBatches(params: { limit?: number | undefined; afterId?: string | undefined } = {}) {
    return this.backend.listBatches({ limit: params.limit ?? 50, afterId: params.afterId });
  }

  /**
   * Attempts ended per domain and 10-second bucket since `since` (all domains, or
   * `domain`), as the workers recorded them in the store: completed, failed, retried and
   * sent to troubleshooting. The console's throughput and failure-rate charts.
   */
  throughput(since: Date, domain?: string): Promise<ThroughputSample[]> {
    return this.backend.samples.readSamples({ since, domain });
  }

  // ---- workers and life cycle ----------------------------------------------------------

  /** A worker that runs this bus's handlers. Call `start()` on it. */
  worker(options: WorkerOptions = {}): Worker {
    return new Worker({
      backend: this.backend,
      registry: this.registry,
      middleware: this.middleware,
      logger: this.logger,
      tracing: this.tracing,
      send: (domain, type, data, sendOptions, parent) =>
        this.sendIn(parent, domain, type, data, sendOptions),
      ...this.workerDefaults,
      ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
    });
  }

  /**
   * The workers recorded in the store, oldest start first, each with its status by the
   * store's clock: alive, stale (no refresh for a while: crashed or cut off) or stopped.
   */
  workers(): Promise<WorkerEntry[]> {
    return this.backend.workers.listWorkers();
  }

  /** Applies the store's pending migrations (safe to run again, and from several processes). */
  migrate(): Promise<void> {
    return this.backend.migrate();
  }

  /** Closes the store. Stop this bus's workers first (`worker.stop()`). */
  close(): Promise<void> {
    return this.backend.close();
  }
}
