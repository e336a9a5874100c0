/** Small pieces every page uses: an error box, a progress bar, a loading line, a state badge. */
import type { ComponentChildren } from 'preact';
import { errorText } from '../api';
import { count, stateLabel } from '../format';

export function ErrorBox({ error }: { error: unknown }) {
  if (error === null || error === undefined) return null;
  return (
    <p class="error" role="alert">
      {errorText(error)}
    </p>
  );
}

export function Notice({ children }: { children: ComponentChildren }) {
  return (
    <p class="notice" role="status">
      {children}
    </p>
  );
}

export function Loading() {
  return <p class="muted">Loading…</p>;
}

/** A labelled progress bar: `done` of `total`, with the failed part told apart. */
export function Progress({
  label,
  done,
  total,
  failed = 0,
}: {
  label: string;
  done: number;
  total: number;
  failed?: number;
}) {
  const fraction = total > 0 ? Math.min(1, done / total) : 1;
  return (
    <div class="progress">
      <progress max={total || 1} value={Math.min(done, total || 1)} aria-label={label} />
      <span class="progress-text">
        {count(done)} / {count(total)} ({Math.round(fraction * 100)} %)
        {failed > 0 ? `, ${count(failed)} failed` : ''}
      </span>
    </div>
  );
}

export function StateBadge({ state }: { state: string }) {
  return <span class={`badge state-${state}`}>{stateLabel(state)}</span>;
}

export function Json({ value, label }: { value: unknown; label: string }) {
  return (
    <pre class="json" aria-label={label} tabIndex={0}>
      {value === undefined || value === null ? 'null' : JSON.stringify(value, null, 2)}
    </pre>
  );
}
