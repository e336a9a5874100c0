import { Histogram, type Registry } from 'prom-client';

/** One (domain, type)'s run times, counted into buckets as plain numbers. */
export class DurationCounts {
  /** Per bucket (not cumulative), the last one for values above every bound. */
  readonly buckets: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.buckets = new Float64Array(bounds.length + 1);
  }

  observe(seconds: number): void {
    let i = 0;
    while (i < this.bounds.length && seconds > this.bounds[i]!) i++;
    this.buckets[i]!++;
    this.sum += seconds;
    this.count++;
  }
}

interface Labelled {
  readonly domain: string;
  readonly type: string;
  readonly duration: DurationCounts;
}

interface ExportedValue {
  labels: Record<string, string | number>;
  sharedLabels: Record<string, string>;
  value: number;
  metricName: string;
}

/**
 * A prom-client Histogram whose buckets are counted outside it, in plain numbers, and
 * read at each scrape. prom-client's own observe hashes the label set at every call
 * (about 330 ns, a quarter of what metrics cost a drained command); a bucket search and
 * three additions cost a tenth of that. prom-client has no way to write a histogram's
 * buckets, so this overrides the read that the registry's text and JSON both go
 * through (getForPromString), producing the values prom-client's own Histogram does.
 */
export class CountedHistogram extends Histogram<'domain' | 'type'> {
  private readonly metricName: string;
  private readonly metricHelp: string;

  constructor(
    config: { name: string; help: string; buckets: number[]; registers: Registry[] },
    private readonly sources: () => Iterable<Labelled>,
  ) {
    super({ ...config, labelNames: ['domain', 'type'] });
    this.metricName = config.name;
    this.metricHelp = config.help;
  }

  // Not in prom-client's type declarations: the registry calls it for the text format,
  // and get() (the JSON) maps its values.
  getForPromString(): Promise<{
    name: string;
    help: string;
    type: 'histogram';
    values: ExportedValue[];
    aggregator: 'sum';
  }> {
    const bounds = (this as unknown as { upperBounds: number[] }).upperBounds;
    const values: ExportedValue[] = [];
    for (const { domain, type, duration } of this.sources()) {
      const sharedLabels = { domain, type };
      let cumulative = 0;
      bounds.forEach((le, i) => {
        cumulative += duration.buckets[i]!;
        values.push({
          labels: { le },
          sharedLabels,
          value: cumulative,
          metricName: `${this.metricName}_bucket`,
        });
      });
      values.push(
        {
          labels: { le: '+Inf' },
          sharedLabels,
          value: duration.count,
          metricName: `${this.metricName}_bucket`,
        },
        { labels: {}, sharedLabels, value: duration.sum, metricName: `${this.metricName}_sum` },
        { labels: {}, sharedLabels, value: duration.count, metricName: `${this.metricName}_count` },
      );
    }
    return Promise.resolve({
      name: this.metricName,
      help: this.metricHelp,
      type: 'histogram',
      values,
      aggregator: 'sum',
    });
  }
}
