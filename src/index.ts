export { createDispatchbox, openBackend, type CreateDispatchboxOptions } from './create.js';
export {
  CommandBus,
  type CommandBusOptions,
  type SendItem,
  type OperatorOptions,
  type CreateBatchOptions,
  type CommandFilter,
  type ListParams,
  type PublishOptions,
  type PublishItem,
  type PublishedEvent,
} from './bus/bus.js';
export { handler } from './bus/decorators.js';
export {
  Worker,
  type WorkerOptions,
  type WorkerStats,
  type WorkerEvents,
} from './worker/worker.js';
export type { BusEvents } from './bus/bus.js';
export {
  TypedEvents,
  WORKER_EVENT_NAMES,
  BUS_EVENT_NAMES,
  type WorkerEventMap,
  type WorkerEventName,
  type BusEventMap,
  type BusEventName,
  type CommandEvent,
  type SettledEvent,
  type SentCommand,
  type StoreOperation,
} from './core/events.js';
export type { MaintenanceService } from './worker/services.js';
export type {
  Command,
  NewCommand,
  ClaimedCommand,
  AuditRecord,
  CommandError,
  JsonValue,
} from './core/command.js';
export type { HandlerContext, Middleware, Handler } from './core/context.js';
export type { SendOptions } from './core/send-options.js';
export { HEADER_LIMITS } from './core/headers.js';
export type { HandlerDefaults, HandlerOptions } from './core/registry.js';
export type {
  RateLimitOption,
  RateLimitSpec,
  RateLimitCallOptions,
} from './core/rate-limit-spec.js';
export type { RetryPolicy, Backoff } from './core/retry.js';
export { decideFailure, backoffDelay } from './core/retry.js';
export type { Duration } from './core/duration.js';
export { COMMAND_STATES, type CommandState } from './core/states.js';
export {
  ACTIVE_STATES,
  OPERATOR_RULES,
  TERMINAL_STATES,
  TRANSITIONS,
  type AttemptEffect,
  type AuditedAs,
  type GivenText,
  type Mover,
  type OperatorAction,
  type OperatorRule,
  type Transition,
} from './core/lifecycle.js';
export { uuidv7 } from './core/ids.js';
export * from './core/errors.js';
export type * from './backends/backend.js';
export type * from './backends/worker-registry.js';
export type { WorkerRegistryOptions } from './worker/registry-refresh.js';
export { schemaSql } from './backends/sql/migrator.js';
