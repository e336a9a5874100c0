/** The tables of the streams benchmark, as Markdown (printed, and pasted into RESULTS.md). */
import { spread, type Spread } from './stats.js';
import { VARIANTS, type ConsumeResult, type Variant } from './streams-consume.js';
import type { BurstResult, SteadyResult } from './streams-relay.js';

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const ratio = (a: number, b: number) => (Number.isFinite(a / b) ? `${(a / b).toFixed(2)}×` : '–');
const range = (s: Spread | null, unit = '') =>
  s ? `${int(s.median)}${unit} (${int(s.min)}–${int(s.max)})` : '–';

function table(header: string[], align: ('l' | 'r')[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length), 3));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (align[i] === 'r' ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
  const rule = `| ${widths.map((w, i) => (align[i] === 'r' ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w))).join(' | ')} |`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

const LABEL: Record<Variant, string> = {
  raw: 'client library loop',
  bare: 'bare transport consumer',
  service: 'stream service, no dedup',
  'service+dedup': 'stream service + Redis dedup',
};

function of(result: ConsumeResult, variant: Variant) {
  const samples = result.samples.filter((s) => s.variant === variant);
  return {
    rate: spread(samples.map((s) => s.rate)),
    cpu: spread(samples.map((s) => s.cpuUsPerMessage)),
  };
}

/** One row per transport and variant: msgs/s (median, range), CPU per message, ratios. */
export function consumeTable(results: ConsumeResult[]): string {
  const rows: string[][] = [];
  for (const result of results) {
    const bare = of(result, 'bare');
    const raw = of(result, 'raw');
    for (const variant of VARIANTS) {
      const { rate, cpu } = of(result, variant);
      if (!rate) {
        rows.push([
          result.transport,
          LABEL[variant],
          result.missing[variant] ?? 'no run finished',
          '',
          '',
          '',
          '',
        ]);
        continue;
      }
      rows.push([
        result.transport,
        LABEL[variant],
        range(rate, '/s'),
        `${cpu!.median.toFixed(1)}`,
        `${rate.n}`,
        bare.rate ? ratio(rate.median, bare.rate.median) : '–',
        raw.rate ? ratio(rate.median, raw.rate.median) : '–',
      ]);
    }
  }
  return table(
    [
      'transport',
      'consumer',
      'msgs/s median (min–max)',
      'CPU µs/msg',
      'runs',
      '÷ bare',
      '÷ raw client',
    ],
    ['l', 'l', 'r', 'r', 'r', 'r', 'r'],
    rows,
  );
}

/** The issue's target: the reliability layer at most 20 % below the bare client. */
export function consumeTargets(results: ConsumeResult[]): string[] {
  const lines: string[] = [];
  for (const result of results) {
    const bare = of(result, 'bare').rate;
    if (!bare) continue;
    for (const variant of ['service', 'service+dedup'] as const) {
      const rate = of(result, variant).rate;
      if (!rate) continue;
      const r = rate.median / bare.median;
      lines.push(
        `${result.transport} ${variant}: ${(r * 100).toFixed(0)} % of the bare consumer (target ≥ 80 %): ${r >= 0.8 ? 'met' : 'MISSED'}`,
      );
    }
  }
  return lines;
}

export function steadyTable(results: SteadyResult[]): string {
  return table(
    [
      'target rate',
      'published/s',
      'relayed/s',
      'publish→stream p50 / p99 / max (ms)',
      'oldest waiting p50 / max (ms)',
      'waiting max',
      'load',
    ],
    ['r', 'r', 'r', 'r', 'r', 'r', 'r'],
    results.map((r) => [
      `${int(r.targetRate)}/s`,
      int(r.publishedRate),
      int(r.relayedRate),
      `${int(r.latency.p50)} / ${int(r.latency.p99)} / ${int(r.latency.max)}`,
      `${int(r.oldestAge.p50)} / ${int(r.oldestAge.max)}`,
      int(r.maxPending),
      r.load.toFixed(1),
    ]),
  );
}

export function burstTable(results: BurstResult[]): string {
  return table(
    ['events', 'written in (ms)', 'drained in (ms)', 'relayed/s', 'load'],
    ['r', 'r', 'r', 'r', 'r'],
    results.map((r) => [
      int(r.count),
      int(r.writeMs),
      int(r.drainMs),
      int(r.relayedRate),
      r.load.toFixed(1),
    ]),
  );
}

export function burstSummary(results: BurstResult[]): string {
  const rates = spread(results.map((r) => r.relayedRate));
  const drains = spread(results.map((r) => r.drainMs));
  return `burst: relayed ${range(rates, '/s')}, drain ${range(drains, ' ms')} (median, min–max of ${results.length})`;
}
