/** The results as tables: the numbers, the ratios against each peer, the targets. */
import { ALL_SYSTEM_NAMES, SYSTEM_NAMES, systemInfo, type SystemName } from './adapters/index.js';
import { mean, spread, type Spread } from './stats.js';
import type { BenchConfig, RunSample, SystemResult } from './workloads.js';

type Metric = keyof RunSample;

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const ms = (n: number) =>
  n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : Math.round(n).toString();

export function metric(result: SystemResult | undefined, key: Metric): Spread | null {
  return result ? spread(result.runs.map((r) => r[key] ?? Number.NaN)) : null;
}

function cell(s: Spread | null, format: (n: number) => string = int): string {
  if (!s) return '–';
  return s.n > 1 ? `${format(s.median)} (${format(s.min)}–${format(s.max)})` : format(s.median);
}

const bytesPerJob = (s: { bytes: number; handled: number }) => s.bytes / Math.max(1, s.handled);

/** The range of a batch's drain rates when it ran more than once. */
function batchRange(rates: number[]): string {
  return rates.length > 1 ? ` (${int(Math.min(...rates))}–${int(Math.max(...rates))})` : '';
}

function unavailableCell(result: SystemResult | undefined): string | null {
  if (!result) return 'not run';
  if (result.unavailable) return 'not available';
  return null;
}

/** The main table: one column per system, medians with min–max over the runs. */
export function resultsTable(results: SystemResult[], config: BenchConfig): string {
  const systems = ALL_SYSTEM_NAMES.filter((s) => results.some((r) => r.system === s));
  const by = (s: SystemName) => results.find((r) => r.system === s);
  const rows: [string, (r: SystemResult) => string][] = [
    [
      `enqueue-bulk (/s, ${int(config.bulkCount)} in chunks of ${int(config.bulkChunk)})`,
      (r) => cell(metric(r, 'bulk')),
    ],
    [
      `enqueue-single (/s, ${int(config.singleCount)}, ${config.singleInFlight} in flight)`,
      (r) => cell(metric(r, 'single')),
    ],
    [
      `drain (/s, ${int(config.bulkCount)}, concurrency ${config.concurrency})`,
      (r) => cell(metric(r, 'drain')),
    ],
    [
      `latency p50 / p95 / p99 / max (ms); p99 of each turn`,
      (r) =>
        r.latency
          ? `${[r.latency.p50, r.latency.p95, r.latency.p99, r.latency.max].map(ms).join(' / ')}; ${r.latency.turnP99.map(ms).join(', ')}`
          : '–',
    ],
    [
      `latency p50 split (ms): send until the store's acknowledgement / the rest`,
      (r) => (r.latency ? `${ms(r.latency.ackP50)} / ${ms(r.latency.afterAckP50)}` : '–'),
    ],
    [`retry (/s, ${int(config.singleCount)} failing once)`, (r) => cell(metric(r, 'retry'))],
    [
      `sustained (/s per ${config.sustainedWindowMs / 1000} s window; last ÷ first)`,
      (r) =>
        r.sustained
          ? `${r.sustained.rates.map(int).join(', ')}; ${r.sustained.lastOverFirst.toFixed(2)}`
          : '–',
    ],
    [
      'sustained: schema size at the end (MB); bytes per job handled, first → last window',
      (r) => {
        const sizes = r.sustained?.sizes;
        const first = sizes?.[0];
        const last = sizes?.at(-1);
        if (!first || !last) return systemInfo(r.system).store === 'postgres' ? '–' : 'n/a';
        return `${int(last.bytes / 2 ** 20)}; ${int(bytesPerJob(first))} → ${int(bytesPerJob(last))}`;
      },
    ],
    [
      `batch of ${int(config.batchCount)}: create s / drain /s / notified after ms`,
      (r) =>
        r.batch
          ? `${r.batch.count === config.batchCount ? '' : `(${int(r.batch.count)}) `}${(r.batch.createMs / 1000).toFixed(1)} / ${int(r.batch.drainRate)}${batchRange(r.batch.drainRates)}${r.batch.referenceDrainRates.length > 0 ? ` (drains before and after: ${r.batch.referenceDrainRates.map(int).join(', ')})` : ''} / ${r.batch.notifyAfterMs === null ? 'never' : int(r.batch.notifyAfterMs)}`
          : systemInfo(r.system).ours
            ? '–'
            : 'n/a',
    ],
    ['memory: worker peak RSS in drain (MB)', (r) => cell(metric(r, 'drainRssMb'))],
  ];
  const header = `| workload | ${systems.join(' | ')} |\n|---|${systems.map(() => '---:').join('|')}|`;
  const body = rows.map(
    ([label, f]) =>
      `| ${label} | ${systems.map((s) => unavailableCell(by(s)) ?? f(by(s)!)).join(' | ')} |`,
  );
  return [header, ...body].join('\n');
}

/** Ours ÷ peer for every pair on the same store (for latency and memory, peer ÷ ours: above 1 is better). */
export function ratiosTable(results: SystemResult[]): string {
  const by = (s: SystemName) => results.find((r) => r.system === s && !r.unavailable);
  const lines = [
    '| ours vs peer (same store) | bulk | single | drain | retry | latency p50 | latency p99 | memory |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const ours of SYSTEM_NAMES.filter((s) => systemInfo(s).ours)) {
    for (const peer of SYSTEM_NAMES.filter(
      (s) => !systemInfo(s).ours && systemInfo(s).store === systemInfo(ours).store,
    )) {
      const a = by(ours);
      const b = by(peer);
      if (!a || !b) continue;
      const r = (key: Metric) => fmtRatio(metric(a, key)?.median, metric(b, key)?.median);
      const inv = (x: number | undefined, y: number | undefined) => fmtRatio(y, x);
      lines.push(
        `| ${ours} vs ${peer} | ${r('bulk')} | ${r('single')} | ${r('drain')} | ${r('retry')} | ${inv(a.latency?.p50, b.latency?.p50)} | ${inv(a.latency?.p99, b.latency?.p99)} | ${inv(metric(a, 'drainRssMb')?.median, metric(b, 'drainRssMb')?.median)} |`,
      );
    }
  }
  return lines.join('\n');
}

/**
 * What metrics and tracing cost: each store's drain and peak RSS with them on (the
 * '-observed' variant) against off ('-dark'), when both ran. Empty when none did.
 */
export function observabilityTable(results: SystemResult[]): string {
  const by = (s: string) => results.find((r) => r.system === s && !r.unavailable);
  const lines: string[] = [];
  for (const store of ['pglite', 'postgres', 'redis']) {
    const on = by(`dispatchbox-${store}-observed`);
    const off = by(`dispatchbox-${store}-dark`);
    if (!on || !off) continue;
    lines.push(
      `| dispatchbox-${store} | ${fmtRatio(metric(on, 'drain')?.median, metric(off, 'drain')?.median)} | ${fmtRatio(metric(on, 'drainRssMb')?.median, metric(off, 'drainRssMb')?.median)} |`,
    );
  }
  if (lines.length === 0) return '';
  return [
    '| metrics and tracing on ÷ off | drain | drain peak RSS |',
    '|---|---:|---:|',
    ...lines,
  ].join('\n');
}

function ratio(a: number | undefined, b: number | undefined): number | undefined {
  return a !== undefined && b !== undefined && Number.isFinite(a) && Number.isFinite(b) && b > 0
    ? a / b
    : undefined;
}

function fmtRatio(a: number | undefined, b: number | undefined): string {
  const r = ratio(a, b);
  return r === undefined ? '–' : `${r.toFixed(2)}×`;
}

export interface TargetRow {
  target: string;
  measured: string;
  pass: boolean | null;
}

/** The issue's targets, checked on this run's numbers (null: a side did not run). */
export function targets(results: SystemResult[]): TargetRow[] {
  const by = (s: SystemName) => results.find((r) => r.system === s && !r.unavailable);
  const rows: TargetRow[] = [];
  const atLeast = (target: string, value: number | undefined, min: number) =>
    rows.push({
      target,
      measured: value === undefined ? '–' : `${value.toFixed(2)}×`,
      pass: value === undefined ? null : value >= min,
    });
  const med = (s: SystemName, key: Metric) => metric(by(s), key)?.median;
  const vs = (ours: SystemName, peer: SystemName, key: Metric, min: number, label: string) =>
    atLeast(`${ours} vs ${peer}: ${label} ≥ ${min}×`, ratio(med(ours, key), med(peer, key)), min);
  const noWorse = (
    target: string,
    ours: number | undefined,
    peer: number | undefined,
    unit: string,
  ) =>
    rows.push({
      target,
      measured:
        ours === undefined || peer === undefined ? '–' : `${ms(ours)} vs ${ms(peer)} ${unit}`,
      pass: ours === undefined || peer === undefined ? null : ours <= peer,
    });

  const pg = 'dispatchbox-postgres';
  vs(pg, 'graphile', 'drain', 1.25, 'drain');
  vs(pg, 'graphile', 'single', 10, 'enqueue-single');
  vs(pg, 'graphile', 'bulk', 1, 'enqueue-bulk');
  const p50 = by(pg)?.latency?.p50;
  rows.push({
    target: `${pg}: latency p50 ≤ 1.5 ms`,
    measured: p50 === undefined ? '–' : `${ms(p50)} ms`,
    pass: p50 === undefined ? null : p50 <= 1.5,
  });
  noWorse(
    `${pg}: latency p99 ≤ graphile's`,
    by(pg)?.latency?.p99,
    by('graphile')?.latency?.p99,
    'ms',
  );
  vs(pg, 'graphile', 'retry', 2, 'retry');
  const lf = by(pg)?.sustained?.lastOverFirst;
  rows.push({
    target: `${pg}: sustained last window ≥ 80% of first`,
    measured: lf === undefined ? '–' : `${Math.round(lf * 100)}%`,
    pass: lf === undefined ? null : lf >= 0.8,
  });
  // Bounded: the tables grow with the jobs they keep, not with the dead rows of updates.
  const sizes = by(pg)?.sustained?.sizes;
  const [firstSize, lastSize] = sizes && sizes.length > 1 ? [sizes[0]!, sizes.at(-1)!] : [];
  const growth = firstSize && lastSize ? bytesPerJob(lastSize) / bytesPerJob(firstSize) : undefined;
  rows.push({
    target: `${pg}: sustained tables' size bounded (bytes per job handled, last window ≤ 1.25× first)`,
    measured:
      firstSize && lastSize && growth !== undefined
        ? `${int(bytesPerJob(firstSize))} → ${int(bytesPerJob(lastSize))} B (${growth.toFixed(2)}×)`
        : '–',
    pass: growth === undefined ? null : growth <= 1.25,
  });
  vs(pg, 'pgboss-postgres', 'drain', 3, 'drain');

  const redis = 'dispatchbox-redis';
  vs(redis, 'bullmq', 'drain', 1.3, 'drain');
  vs(redis, 'bullmq', 'bulk', 1.5, 'enqueue-bulk');
  vs(redis, 'bullmq', 'single', 1, 'enqueue-single');
  vs(redis, 'bullmq', 'retry', 1.5, 'retry');
  noWorse(
    `${redis}: latency p99 ≤ bullmq's`,
    by(redis)?.latency?.p99,
    by('bullmq')?.latency?.p99,
    'ms',
  );

  const embedded = 'dispatchbox-pglite';
  for (const [key, label] of [
    ['bulk', 'enqueue-bulk'],
    ['single', 'enqueue-single'],
    ['drain', 'drain'],
    ['retry', 'retry'],
  ] as const) {
    vs(embedded, 'pgboss-pglite', key, 2, label);
  }
  atLeast(
    `${embedded} vs pgboss-pglite: latency p50 (theirs ÷ ours) ≥ 2×`,
    ratio(by('pgboss-pglite')?.latency?.p50, by(embedded)?.latency?.p50),
    2,
  );
  const sustainedMedian = (s: SystemName) => {
    const rates = by(s)?.sustained?.rates;
    return rates && rates.length > 0 ? spread(rates)?.median : undefined;
  };
  atLeast(
    `${embedded} vs pgboss-pglite: sustained ≥ 2×`,
    ratio(sustainedMedian(embedded), sustainedMedian('pgboss-pglite')),
    2,
  );

  for (const ours of SYSTEM_NAMES.filter((s) => systemInfo(s).ours)) {
    for (const peer of SYSTEM_NAMES.filter(
      (s) => !systemInfo(s).ours && systemInfo(s).store === systemInfo(ours).store,
    )) {
      noWorse(
        `${ours}: drain peak RSS ≤ ${peer}'s`,
        med(ours, 'drainRssMb'),
        med(peer, 'drainRssMb'),
        'MB',
      );
    }
  }

  const batch = by(pg)?.batch;
  rows.push({
    target: `${pg}: 1,000,000-command batch created in < 30 s`,
    measured: batch ? `${(batch.createMs / 1000).toFixed(1)} s for ${int(batch.count)}` : '–',
    pass: batch && batch.count === 1_000_000 ? batch.createMs < 30_000 : null,
  });
  for (const ours of SYSTEM_NAMES.filter((s) => systemInfo(s).ours)) {
    // Against drains of 100,000 run just before and just after the batch, under the same
    // conditions; the median of the repeated drains (minutes earlier) is shown beside it.
    const b = by(ours)?.batch;
    // the mean of the drains just before and after the batch
    const reference =
      b && b.referenceDrainRates.length > 0 ? mean(b.referenceDrainRates) : undefined;
    const drain = med(ours, 'drain');
    rows.push({
      target: `${ours}: batch drained at the drain rate (≥ 90% of the drains just before and after it)`,
      measured:
        b && reference
          ? `${int(b.drainRate)} vs ${int(reference)} /s (${Math.round((100 * b.drainRate) / reference)}%; ${drain ? `${Math.round((100 * b.drainRate) / drain)}% of the drain median` : 'no drain median'})`
          : '–',
      pass: b && reference ? b.drainRate >= 0.9 * reference : null,
    });
  }
  return rows;
}

export function targetsTable(rows: TargetRow[]): string {
  const mark = (p: boolean | null) => (p === null ? 'not measured' : p ? 'met' : '**missed**');
  return [
    '| target | measured | |',
    '|---|---:|---|',
    ...rows.map((r) => `| ${r.target} | ${r.measured} | ${mark(r.pass)} |`),
  ].join('\n');
}

export function problems(results: SystemResult[]): string[] {
  return results.flatMap((r) => [
    ...r.errors.map((e) => `${r.system}: error: ${e}`),
    ...r.checks.map((c) => `${r.system}: check failed: ${c}`),
  ]);
}
