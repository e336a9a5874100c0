/**
 * Overview: counts by state per domain and type (live, from the stream), the totals,
 * throughput and failure-rate charts (stored samples, so a restart does not blank them),
 * the oldest pending command per domain, and the workers.
 */
import { api } from '../api';
import { Chart } from '../components/chart';
import { ErrorBox, Loading } from '../components/common';
import { age, count, stateLabel } from '../format';
import { useInterval, useLoad } from '../hooks';
import { useLiveCounts } from '../live';
import { href } from '../route';
import { STATES, type CountRow, type Overview, type Throughput } from '../types';

export function OverviewPage() {
  const overview = useLoad(() => api.get<Overview>('/overview'), 'overview');
  const throughput = useLoad(() => api.get<Throughput>('/throughput?minutes=60'), 'throughput');
  const liveCounts = useLiveCounts();
  // Samples are written in 10-second buckets; the workers' summary changes as slowly.
  useInterval(() => {
    void throughput.reload();
    void overview.reload();
  }, 10_000);

  const data = overview.data;
  if (!data) return overview.error ? <ErrorBox error={overview.error} /> : <Loading />;
  const counts = liveCounts?.counts ?? data.counts;
  const totals = liveCounts?.totals ?? data.totals;
  const oldest = liveCounts?.oldestPending ?? data.oldestPending;

  return (
    <>
      <h1>Overview</h1>
      <section aria-labelledby="totals-heading">
        <h2 id="totals-heading">Totals</h2>
        <ul class="totals">
          {STATES.map((state) => (
            <li key={state} class={`total state-${state}`}>
              <a href={href('commands', { state })}>
                <span class="total-count" data-state={state}>
                  {count(totals[state] ?? 0)}
                </span>
                <span class="total-label">{stateLabel(state)}</span>
              </a>
            </li>
          ))}
        </ul>
      </section>
      <section aria-labelledby="charts-heading">
        <h2 id="charts-heading">Throughput, last hour</h2>
        <ErrorBox error={throughput.error} />
        {throughput.data && <ThroughputCharts throughput={throughput.data} />}
      </section>
      <section aria-labelledby="counts-heading">
        <h2 id="counts-heading">Commands by domain and type</h2>
        <CountsTable counts={counts} />
      </section>
      <div class="columns">
        <section aria-labelledby="oldest-heading">
          <h2 id="oldest-heading">Oldest pending</h2>
          {oldest.length === 0 ? (
            <p class="muted">Nothing is waiting.</p>
          ) : (
            <table>
              <thead>
                <tr>
                  <th scope="col">Domain</th>
                  <th scope="col">Waiting for</th>
                </tr>
              </thead>
              <tbody>
                {oldest.map((row) => (
                  <tr key={row.domain}>
                    <td>
                      <a href={href('commands', { state: 'pending', domain: row.domain })}>
                        {row.domain}
                      </a>
                    </td>
                    <td>{age(row.ageSeconds)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
        <section aria-labelledby="workers-heading">
          <h2 id="workers-heading">Workers</h2>
          <p>
            <a href="#/workers">
              {count(data.workers.alive)} alive, {count(data.workers.stale)} stale,{' '}
              {count(data.workers.stopped)} stopped
            </a>
          </p>
        </section>
      </div>
    </>
  );
}

function CountsTable({ counts }: { counts: CountRow[] }) {
  const rows = new Map<string, { domain: string; type: string; byState: Map<string, number> }>();
  for (const row of counts) {
    const key = `${row.domain}\u0000${row.type}`;
    const entry = rows.get(key) ?? { domain: row.domain, type: row.type, byState: new Map() };
    entry.byState.set(row.state, (entry.byState.get(row.state) ?? 0) + row.count);
    rows.set(key, entry);
  }
  const sorted = [...rows.values()].sort(
    (a, b) => a.domain.localeCompare(b.domain) || a.type.localeCompare(b.type),
  );
  if (sorted.length === 0) return <p class="muted">No commands yet.</p>;
  return (
    <div class="scroll">
      <table class="counts">
        <thead>
          <tr>
            <th scope="col">Domain</th>
            <th scope="col">Type</th>
            {STATES.map((state) => (
              <th scope="col" key={state} class="num">
                {stateLabel(state)}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {sorted.map((row) => (
            <tr key={`${row.domain}/${row.type}`}>
              <th scope="row">{row.domain}</th>
              <td>{row.type}</td>
              {STATES.map((state) => {
                const n = row.byState.get(state) ?? 0;
                return (
                  <td key={state} class="num">
                    {n === 0 ? (
                      <span class="muted">0</span>
                    ) : (
                      <a href={href('commands', { state, domain: row.domain, type: row.type })}>
                        {count(n)}
                      </a>
                    )}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function ThroughputCharts({ throughput }: { throughput: Throughput }) {
  const buckets = new Map<number, { completed: number; failed: number; retried: number }>();
  for (const s of throughput.samples) {
    const at = Math.floor(new Date(s.at).getTime() / 1000);
    const bucket = buckets.get(at) ?? { completed: 0, failed: 0, retried: 0 };
    bucket.completed += s.completed;
    bucket.failed += s.failed;
    bucket.retried += s.retried;
    buckets.set(at, bucket);
  }
  if (buckets.size === 0) return <p class="muted">No attempts recorded in the last hour.</p>;
  // Every bucket of the hour, the empty ones as zero, so the axis spans the hour.
  const seconds = throughput.bucketMs / 1000;
  const end = Math.floor(Date.now() / 1000 / seconds) * seconds;
  const times: number[] = [];
  for (let t = end - 3600; t <= end; t += seconds) times.push(t);
  const empty = { completed: 0, failed: 0, retried: 0 };
  const at = (t: number) => buckets.get(t) ?? empty;
  const per = (pick: (b: { completed: number; failed: number; retried: number }) => number) =>
    times.map((t) => pick(at(t)) / seconds);
  const failureRate = times.map((t) => {
    const b = at(t);
    const attempts = b.completed + b.failed;
    return attempts === 0 ? null : (100 * b.failed) / attempts;
  });
  return (
    <div class="columns">
      <Chart
        title="Attempts per second"
        unit="/s"
        times={times}
        series={[
          { label: 'completed', color: '#2e7d32', values: per((b) => b.completed) },
          { label: 'failed', color: '#c62828', values: per((b) => b.failed) },
          { label: 'retried', color: '#ef6c00', values: per((b) => b.retried) },
        ]}
      />
      <Chart
        title="Failure rate"
        unit="%"
        times={times}
        series={[{ label: 'failed attempts', color: '#c62828', values: failureRate, dots: true }]}
      />
    </div>
  );
}
