/**
 * An action on every command matching a filter (or in a troubleshooting group): the count
 * is shown, the operator confirms it, and the request carries that count (expectedCount)
 * so the server refuses if it changed meanwhile; then the job's progress is shown.
 */
import { useState } from 'preact/hooks';
import { ApiError } from '../api';
import { count } from '../format';
import { rememberJob, useJob } from '../jobs';
import type { Action, Job } from '../types';
import { ErrorBox, Progress } from './common';

export interface BulkRequest {
  action: Action;
  reason?: string;
  result?: unknown;
  expectedCount: number;
}

const VERBS: Record<Action, string> = { retry: 'Retry', cancel: 'Cancel', complete: 'Complete' };

export function BulkAction({
  id,
  matching,
  noun,
  start,
}: {
  /** Tells this form's controls apart from another's on the same page. */
  id: string;
  matching: number;
  /** What the commands are, for the confirmation: "matching commands", "in this group". */
  noun: string;
  start: (request: BulkRequest) => Promise<{ job: Job }>;
}) {
  const [action, setAction] = useState<Action>('retry');
  const [reason, setReason] = useState('');
  const [confirming, setConfirming] = useState<number | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [jobId, setJobId] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const job = useJob(jobId);

  const confirm = async () => {
    if (confirming === null) return;
    setBusy(true);
    setError(null);
    try {
      const request: BulkRequest = { action, expectedCount: confirming };
      if (reason.trim()) request.reason = reason.trim();
      const { job: started } = await start(request);
      rememberJob(started);
      setJobId(started.id);
      setConfirming(null);
    } catch (caught) {
      setError(caught);
      // The count changed meanwhile: ask again with the new one.
      const current = caught instanceof ApiError ? caught.problem.count : undefined;
      setConfirming(typeof current === 'number' ? current : null);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="bulk">
      <div class="row">
        <label>
          Action
          <select
            id={`${id}-action`}
            value={action}
            onChange={(e) => setAction(e.currentTarget.value as Action)}
          >
            <option value="retry">retry</option>
            <option value="cancel">cancel</option>
            <option value="complete">complete</option>
          </select>
        </label>
        <label>
          Reason
          <input
            id={`${id}-reason`}
            value={reason}
            placeholder="optional, kept in the audit"
            onInput={(e) => setReason(e.currentTarget.value)}
          />
        </label>
        {confirming === null ? (
          <button
            type="button"
            disabled={matching === 0 || busy}
            onClick={() => {
              setError(null);
              setConfirming(matching);
            }}
          >
            {VERBS[action]} all {count(matching)} {noun}…
          </button>
        ) : (
          <span class="confirm" role="group" aria-label="Confirm">
            <strong>
              {VERBS[action]} {count(confirming)} commands?
            </strong>{' '}
            <button type="button" class="danger" disabled={busy} onClick={() => void confirm()}>
              Confirm {action} of {count(confirming)}
            </button>{' '}
            <button type="button" onClick={() => setConfirming(null)}>
              Back
            </button>
          </span>
        )}
      </div>
      <ErrorBox error={error} />
      {job && (
        <div class="job-progress" aria-live="polite">
          <span>
            {job.label}: {job.state}
          </span>
          <Progress label={job.label} done={job.done} total={job.total} failed={job.failed} />
        </div>
      )}
    </div>
  );
}
