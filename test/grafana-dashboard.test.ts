/**
 * The Grafana dashboard in deploy/ queries only metrics that exist: every `dispatchbox_…`
 * name in its expressions is registered by createMetrics (a histogram's by its `_bucket`,
 * `_sum` and `_count`), so a renamed metric cannot leave a panel silently empty.
 */
import { readFileSync } from 'node:fs';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { Backend } from '../src/backends/backend.js';
import { CommandBus } from '../src/bus/bus.js';
import { createMetrics } from '../src/observability/index.js';

interface Target {
  expr: string;
  datasource: { uid: string };
}
interface Dashboard {
  templating: { list: { name: string; type: string; query?: unknown }[] };
  panels: { title: string; datasource: { uid: string }; targets: Target[] }[];
}

const dashboard = JSON.parse(
  readFileSync(new URL('../deploy/grafana/dispatchbox-dashboard.json', import.meta.url), 'utf8'),
) as Dashboard;

/** The metrics a fresh registry of createMetrics holds, and the names a query may use of them. */
function registeredNames(): { families: string[]; names: Set<string> } {
  // no store is read: the names are known from the registry without a scrape
  const bus = new CommandBus({ backend: {} as Backend, logger: pino({ level: 'silent' }) });
  const metrics = createMetrics(bus);
  const names = new Set<string>();
  const families: string[] = [];
  for (const metric of metrics.registry.getMetricsAsArray()) {
    const { name, type } = metric as unknown as { name: string; type: string };
    families.push(name);
    names.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
  }
  metrics.close();
  return { families, names };
}

describe('the Grafana dashboard', () => {
  const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));

  it('uses only metric names the registry has', () => {
    const { families, names: registered } = registeredNames();
    const used = new Set(exprs.flatMap((e) => e.match(/\bdispatchbox_[a-z_]+/g) ?? []));
    expect(used.size).toBeGreaterThanOrEqual(12);
    for (const name of used) expect(registered.has(name), name).toBe(true);
    // and every metric has a panel
    for (const name of families) {
      const shown = ['', '_bucket', '_sum', '_count'].some((s) => used.has(name + s));
      expect(shown, `${name} has no panel`).toBe(true);
    }
  });

  it('takes its Prometheus data source and its domains as variables', () => {
    const variables = Object.fromEntries(dashboard.templating.list.map((v) => [v.name, v]));
    expect(variables.DS_PROMETHEUS?.type).toBe('datasource');
    expect(variables.domain?.type).toBe('query');
    for (const panel of dashboard.panels) {
      expect(panel.datasource.uid, panel.title).toBe('${DS_PROMETHEUS}');
      for (const t of panel.targets) expect(t.datasource.uid, panel.title).toBe('${DS_PROMETHEUS}');
    }
    // every query of a metric labelled by domain follows the domain variable
    const byDomain = exprs.filter((e) =>
      /dispatchbox_(commands|processing|retry|troubleshooting|batch)/.test(e),
    );
    for (const e of byDomain) expect(e, e).toContain('domain=~"$domain"');
  });
});
