/**
 * Throughput samples in SQL (table in migration 012), for PostgreSQL and PGlite. Many
 * workers add to the same bucket at once: the upsert adds their counts to the row.
 */
import type { Queryable } from '../backend.js';
import type { ThroughputSample, ThroughputSampleStore } from '../roles/samples.js';

/** How long samples are kept; prune drops older ones (the role promises at least a day). */
export const SAMPLE_RETENTION_MS = 7 * 24 * 3600_000;

interface SampleRow {
  at: Date;
  domain: string;
  completed: string | number;
  failed: string | number;
  retried: string | number;
  troubleshooting: string | number;
}

export class SqlSampleStore implements ThroughputSampleStore {
  private readonly record: string;
  private readonly read: string;
  /** Drops samples past retention (run by the store's prune). */
  readonly prune: string;

  constructor(
    private readonly db: Queryable,
    schema: string,
  ) {
    const t = `"${schema}"`;
    // One statement for every sample. Grouped first, as an upsert may not touch one row
    // twice; ordered, so that two workers writing the same buckets lock their rows in the
    // same order and never wait on each other in a cycle.
    this.record = `
INSERT INTO ${t}.throughput_samples AS s (at, domain, completed, failed, retried, troubleshooting)
SELECT timestamptz 'epoch' + x.at * interval '1 millisecond', x.domain,
  sum(x.completed), sum(x.failed), sum(x.retried), sum(x.troubleshooting)
FROM json_to_recordset($1::json)
  AS x(at bigint, domain text, completed bigint, failed bigint, retried bigint, troubleshooting bigint)
GROUP BY x.at, x.domain
ORDER BY x.at, x.domain
ON CONFLICT (at, domain) DO UPDATE SET
  completed = s.completed + excluded.completed,
  failed = s.failed + excluded.failed,
  retried = s.retried + excluded.retried,
  troubleshooting = s.troubleshooting + excluded.troubleshooting`;
    this.read = `
SELECT at, domain, completed, failed, retried, troubleshooting
FROM ${t}.throughput_samples
WHERE at >= $1 AND ($2::text IS NULL OR domain = $2)
ORDER BY at, domain COLLATE "C"`;
    this.prune = `DELETE FROM ${t}.throughput_samples WHERE at < now() - ${SAMPLE_RETENTION_MS} * interval '1 millisecond'`;
  }

  async recordSamples(samples: ThroughputSample[]): Promise<void> {
    if (samples.length === 0) return;
    const rows = samples.map((s) => ({
      at: s.at.getTime(),
      domain: s.domain,
      completed: s.completed,
      failed: s.failed,
      retried: s.retried,
      troubleshooting: s.troubleshooting,
    }));
    await this.db.query(this.record, [JSON.stringify(rows)]);
  }

  async readSamples(params: {
    since: Date;
    domain?: string | undefined;
  }): Promise<ThroughputSample[]> {
    const result = await this.db.query<SampleRow>(this.read, [params.since, params.domain ?? null]);
    return result.rows.map((r) => ({
      at: r.at,
      domain: r.domain,
      completed: Number(r.completed),
      failed: Number(r.failed),
      retried: Number(r.retried),
      troubleshooting: Number(r.troubleshooting),
    }));
  }
}
