/** Batches, newest first, each with a progress bar from its live counts. */
import { useState } from 'preact/hooks';
import { api, query } from '../api';
import { ErrorBox, Loading, Progress } from '../components/common';
import { count, time } from '../format';
import { useInterval, useLoad } from '../hooks';
import { href } from '../route';
import type { Batch } from '../types';

export function BatchesPage() {
  const [after, setAfter] = useState<string | undefined>(undefined);
  const batches = useLoad(
    () =>
      api.get<{ batches: Batch[]; next: string | null }>(`/batches${query({ limit: 20, after })}`),
    after ?? '',
  );
  useInterval(() => void batches.reload(), 2000);

  return (
    <>
      <h1>Batches</h1>
      <ErrorBox error={batches.error} />
      {!batches.data ? (
        batches.error ? null : (
          <Loading />
        )
      ) : batches.data.batches.length === 0 ? (
        <p class="muted">No batches.</p>
      ) : (
        <ul class="batches">
          {batches.data.batches.map((batch) => {
            const c = batch.counts;
            return (
              <li key={batch.id} class="card">
                <h2>
                  <a href={href('commands', { batchId: batch.id })}>{batch.name ?? batch.id}</a>{' '}
                  <span class="badge">{batch.status.replace(/_/g, ' ')}</span>
                </h2>
                <Progress
                  label={`Batch ${batch.name ?? batch.id}`}
                  done={c.completed + c.cancelled + c.troubleshooting}
                  total={c.total}
                  failed={c.troubleshooting}
                />
                <p class="muted">
                  {count(c.pending)} pending, {count(c.inProgress)} in progress,{' '}
                  {count(c.completed)} completed, {count(c.troubleshooting)} in troubleshooting,{' '}
                  {count(c.cancelled)} cancelled · created {time(batch.createdAt)}
                  {batch.finishedAt ? ` · finished ${time(batch.finishedAt)}` : ''}
                </p>
              </li>
            );
          })}
        </ul>
      )}
      <nav class="pager" aria-label="Pages of batches">
        {after && (
          <button type="button" onClick={() => setAfter(undefined)}>
            First page
          </button>
        )}
        {batches.data?.next && (
          <button type="button" onClick={() => setAfter(batches.data?.next ?? undefined)}>
            Next page
          </button>
        )}
      </nav>
    </>
  );
}
