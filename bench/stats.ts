/** Small statistics for the report; nearest-rank percentiles, no interpolation. */

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function spread(values: number[]): Spread | null {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return null;
  return {
    median: median(finite),
    min: Math.min(...finite),
    max: Math.max(...finite),
    n: finite.length,
  };
}

export interface LatencyStats {
  p50: number;
  p95: number;
  p99: number;
  max: number;
  samples: number;
  /** Sends whose handler never started. */
  lost: number;
}

/**
 * Send-to-handler-start for each send, matched by index (undefined: its handler never
 * started); a job run twice counts its first start.
 */
export function sendToStart(
  sentAt: number[],
  startedAt: [number, number][],
): (number | undefined)[] {
  const first = new Map<number, number>();
  for (const [i, t] of startedAt) if (!first.has(i)) first.set(i, t);
  return sentAt.map((sent, i) => {
    const started = first.get(i);
    return started === undefined ? undefined : started - sent;
  });
}

/** Percentiles of some sends' latencies (from sendToStart). */
export function latencyStats(each: (number | undefined)[]): LatencyStats {
  const latencies = each.filter((l): l is number => l !== undefined).sort((a, b) => a - b);
  return {
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    max: latencies.at(-1) ?? Number.NaN,
    samples: latencies.length,
    lost: each.length - latencies.length,
  };
}

export function mean(values: number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length;
}
