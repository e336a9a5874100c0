/**
 * dispatchbox/observability: what operators watch. The operations server serves /health,
 * /ready and /metrics (docs/operations.md).
 */
export { startOperationsServer } from './server.js';
export type { MetricsSource, OperationsServer, OperationsServerOptions } from './server.js';
