/**
 * dispatchbox/observability: what operators watch. The operations server serves /health,
 * /ready and /metrics (docs/operations.md); Prometheus metrics of a bus and its workers
 * (createMetrics) and the periodic stats line (startStatsLine) only listen to the typed
 * events and read the store's cheap counts (docs/metrics.md).
 */
export { startOperationsServer } from './server.js';
export type { MetricsSource, OperationsServer, OperationsServerOptions } from './server.js';
export { createMetrics, type DispatchboxMetrics, type MetricsOptions } from './metrics.js';
export { startStatsLine, type StatsLine, type StatsLineOptions } from './stats.js';
