/** The worker registry: every worker the store knows, its status, and its counters. */
import { api } from '../api';
import { ErrorBox, Loading } from '../components/common';
import { age, count, time } from '../format';
import { useInterval, useLoad } from '../hooks';
import type { WorkerEntry } from '../types';

export function WorkersPage() {
  const workers = useLoad(() => api.get<{ workers: WorkerEntry[] }>('/workers'), 'workers');
  useInterval(() => void workers.reload(), 5000);

  if (!workers.data) return workers.error ? <ErrorBox error={workers.error} /> : <Loading />;
  const list = workers.data.workers;
  return (
    <>
      <h1>Workers</h1>
      <ErrorBox error={workers.error} />
      {list.length === 0 ? (
        <p class="muted">No worker has registered.</p>
      ) : (
        <div class="scroll">
          <table class="workers">
            <thead>
              <tr>
                <th scope="col">Worker</th>
                <th scope="col">Status</th>
                <th scope="col">Host / pid</th>
                <th scope="col">Domains</th>
                <th scope="col" class="num">
                  Concurrency
                </th>
                <th scope="col">Last seen</th>
                <th scope="col">Counters</th>
              </tr>
            </thead>
            <tbody>
              {list.map((w) => (
                <tr key={w.id}>
                  <td class="mono">{w.id}</td>
                  <td>
                    <span class={`badge worker-${w.status}`}>{w.status}</span>
                  </td>
                  <td>
                    {w.host} / {w.pid}
                  </td>
                  <td>
                    {w.domains.join(', ')}
                    {w.types ? ` (${w.types.join(', ')})` : ''}
                  </td>
                  <td class="num">{w.concurrency}</td>
                  <td title={time(w.lastSeenAt)}>
                    {w.stoppedAt ? `stopped ${time(w.stoppedAt)}` : `${age(w.silentMs / 1000)} ago`}
                  </td>
                  <td>
                    {Object.entries(w.counters)
                      .map(([name, n]) => `${name} ${count(n)}`)
                      .join(', ')}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
