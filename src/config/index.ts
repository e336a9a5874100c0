import type { Logger } from 'pino';
import { storeTimeoutForLease, type CreateDispatchboxOptions } from '../create.js';
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
export { SETTINGS, LOG_LEVELS, type Setting, type LogLevel } from './settings.js';
export { DEMO_SETTINGS, loadDemoConfig, type DemoConfig } from './demo.js';

export { createLogger } from './logger.js';

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
    tracing: config.tracing,
    // the worker this process runs has DISPATCHBOX_LEASE_MS
    storeTimeoutMs: config.storeTimeoutMs ?? storeTimeoutForLease(config.leaseMs),
    logger,
    // Resolved already, from the CLI's own environment and flags.
    env: {},
  };
}

/** What bus.worker(...) takes from the configuration. */
export function toWorkerOptions(config: DispatchboxConfig): WorkerOptions {
  return {
    concurrency: config.concurrency,
    leaseMs: config.leaseMs,
    pollIntervalMs: config.pollIntervalMs,
    shutdownTimeoutMs: config.shutdownTimeoutMs,
    retentionMs: config.retentionMs,
    domains: config.domains,
    types: config.types,
  };
}
