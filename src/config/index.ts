import type { Logger } from 'pino';
import { storeTimeoutForLease, type CreateDispatchboxOptions } from '../create.js';
import type { HandlerDefaults } from '../core/registry.js';
import type { WorkerOptions } from '../worker/worker.js';
import type { DispatchboxConfig } from './load.js';

export {
  loadConfig,
  resolveSettings,
  checkDatabaseUrl,
  redact,
  type ConfigSources,
  type DispatchboxConfig,
} from './load.js';
export {
  SETTINGS,
  LOG_FORMATS,
  LOG_LEVELS,
  type Setting,
  type LogFormat,
  type LogLevel,
} from './settings.js';
export { WORKER_SETTINGS } from './worker-settings.js';
export { DEMO_SETTINGS, loadDemoConfig, type DemoConfig } from './demo.js';
export {
  CONSOLE_SETTINGS,
  loadConsoleConfig,
  toConsoleOptions,
  type ConsoleConfig,
} from './console.js';
export { STREAMS_SETTINGS, loadStreamsConfig, type StreamsConfig } from './streams.js';

export { createLogger, CLI_LOG_LEVEL, LIBRARY_LOG_LEVEL, resolveLogFormat } from './logger.js';

/** What createDispatchbox(...) takes from the configuration. */
export function toCreateOptions(
  config: DispatchboxConfig,
  logger: Logger,
): CreateDispatchboxOptions {
  return {
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    schema: config.schema,
    migrate: config.migrate,
    poolSize: config.poolSize,
    strict: config.strict,
    maxPayloadBytes: config.maxPayloadBytes,
    connectTimeoutMs: config.connectTimeoutMs,
    tracing: config.tracing,
    // the worker this process runs has DISPATCHBOX_LEASE_MS
    storeTimeoutMs: config.storeTimeoutMs ?? storeTimeoutForLease(config.leaseMs),
    handlerDefaults: toHandlerDefaults(config),
    logger,
    // Resolved already, from the CLI's own environment and flags.
    env: {},
  };
}

/** The timeout and attempts of handlers registered without their own; only those set. */
export function toHandlerDefaults(config: Partial<DispatchboxConfig>): HandlerDefaults {
  return withoutUnset({ timeout: config.handlerTimeoutMs, maxAttempts: config.maxAttempts });
}

/**
 * What bus.worker(...) takes from the configuration. Settings that are undefined (unset,
 * or left out of a partial configuration) are left out, so the worker's own defaults,
 * which may depend on the store and on other options, apply to them.
 */
export function toWorkerOptions(config: Partial<DispatchboxConfig>): WorkerOptions {
  const registration = withoutUnset({
    refreshMs: config.registrationRefreshMs,
    staleAfterMs: config.registrationStaleAfterMs,
    forgetAfterMs: config.registrationForgetAfterMs,
  });
  return withoutUnset({
    workerId: config.workerId,
    concurrency: config.concurrency,
    leaseMs: config.leaseMs,
    pollIntervalMs: config.pollIntervalMs,
    shutdownTimeoutMs: config.shutdownTimeoutMs,
    retentionMs: config.retentionMs,
    domains: config.domains,
    types: config.types,
    claimBatchSize: config.claimBatchSize,
    prefetch: config.prefetch,
    maxUnwrittenOutcomes: config.maxUnwrittenOutcomes,
    maintenance: config.maintenance,
    samples: config.samples,
    registration:
      config.registration === false
        ? false
        : Object.keys(registration).length > 0
          ? registration
          : undefined,
  });
}

function withoutUnset<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
