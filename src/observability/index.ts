/**
 * dispatchbox/observability: what operators watch. Prometheus metrics of a bus and its
 * workers (createMetrics), and the periodic stats line (startStatsLine). Both only listen
 * to the typed events and read the store's cheap counts; docs/metrics.md lists the metrics.
 */
export { createMetrics, type DispatchboxMetrics, type MetricsOptions } from './metrics.js';
export { startStatsLine, type StatsLine, type StatsLineOptions } from './stats.js';
