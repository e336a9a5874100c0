import type { MetricObjectWithValues, MetricValue, Registry } from 'prom-client';

type Labels = Record<string, string | number>;

/** The registry's metrics as prom-client gives them (queue gauges read first), by name. */
export class MetricValues {
  private constructor(
    private readonly byName: Map<string, MetricObjectWithValues<MetricValue<string>>>,
  ) {}

  static async read(registry: Registry): Promise<MetricValues> {
    const all = await registry.getMetricsAsJSON();
    return new MetricValues(new Map(all.map((m) => [m.name, m])));
  }

  /** The samples of `name` (a histogram's are `name_bucket`, `_sum`, `_count`) whose labels include `labels`. */
  samples(name: string, labels: Labels = {}): MetricValue<string>[] {
    const [family, part] = this.family(name);
    const metric = this.byName.get(family);
    if (!metric) throw new Error(`no metric ${family} in the registry`);
    return metric.values.filter(
      (v) =>
        (part === null || (v as { metricName?: string }).metricName === name) &&
        Object.entries(labels).every(([k, value]) => v.labels[k] === value),
    );
  }

  /** The sum of the samples of `name` whose labels include `labels` (0 when none). */
  value(name: string, labels: Labels = {}): number {
    return this.samples(name, labels).reduce((sum, v) => sum + v.value, 0);
  }

  /** How many samples every metric has: its series (each bucket of a histogram counted). */
  seriesCount(): number {
    let n = 0;
    for (const m of this.byName.values()) n += m.values.length;
    return n;
  }

  /** Every label of every sample, as [name, value]. */
  labels(): [string, string][] {
    const found: [string, string][] = [];
    for (const m of this.byName.values())
      for (const v of m.values)
        for (const [k, value] of Object.entries(v.labels)) found.push([k, String(value)]);
    return found;
  }

  private family(name: string): [string, string | null] {
    for (const suffix of ['_bucket', '_sum', '_count']) {
      const family = name.slice(0, -suffix.length);
      if (name.endsWith(suffix) && String(this.byName.get(family)?.type) === 'histogram')
        return [family, suffix];
    }
    return [name, null];
  }
}
