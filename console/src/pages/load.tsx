/**
 * The load generator: the odds of each outcome and the duration range of the demo
 * handlers' attempts, a count up to 1,000,000, the expected outcomes computed as the
 * sliders move (the same model the server and the demo handlers use), then the
 * generation itself with its progress.
 */
import { useState } from 'preact/hooks';
import {
  DEMO_MAX_ATTEMPTS,
  expectedOutcomes,
  MAX_LOAD_COUNT,
  oddsProblem,
} from '../../../src/console/load-model.js';
import { api } from '../api';
import { ErrorBox, Progress } from '../components/common';
import { count, percent } from '../format';
import { rememberJob, useJob } from '../jobs';
import { href } from '../route';
import { useCanAct } from '../session';
import type { Job } from '../types';

interface Settings {
  count: number;
  permanentPct: number;
  transientPct: number;
  timeoutPct: number;
  minMs: number;
  maxMs: number;
}

const SLIDERS: { key: keyof Settings; label: string; max: number; step: number; unit: string }[] = [
  { key: 'permanentPct', label: 'Permanent failures', max: 100, step: 1, unit: '%' },
  { key: 'transientPct', label: 'Transient failures', max: 100, step: 1, unit: '%' },
  { key: 'timeoutPct', label: 'Timeouts', max: 100, step: 1, unit: '%' },
  { key: 'minMs', label: 'Shortest attempt', max: 5000, step: 10, unit: 'ms' },
  { key: 'maxMs', label: 'Longest attempt', max: 5000, step: 10, unit: 'ms' },
];

/** What is wrong with the settings (the server's own checks), or null when they can be sent. */
export function settingsProblem(s: Settings): string | null {
  if (!Number.isInteger(s.count) || s.count < 1 || s.count > MAX_LOAD_COUNT)
    return `The count must be a whole number from 1 to ${count(MAX_LOAD_COUNT)}.`;
  return oddsProblem(s)?.message ?? null;
}

export function LoadPage() {
  const [settings, setSettings] = useState<Settings>({
    count: 1000,
    permanentPct: 2,
    transientPct: 10,
    timeoutPct: 1,
    minMs: 20,
    maxMs: 200,
  });
  const [jobId, setJobId] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const job = useJob(jobId);
  const canAct = useCanAct();
  const problem = settingsProblem(settings);
  const expected = expectedOutcomes({ ...settings, maxAttempts: DEMO_MAX_ATTEMPTS });
  const set = (key: keyof Settings, value: number) => setSettings((s) => ({ ...s, [key]: value }));

  const start = async () => {
    setBusy(true);
    setError(null);
    try {
      const answer = await api.post<{ job: Job }>('/load', { ...settings, domain: 'demo' });
      rememberJob(answer.job);
      setJobId(answer.job.id);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };

  const share = (n: number) => (settings.count > 0 ? percent(n / settings.count) : '');
  const batchId = job?.state === 'done' ? batchOf(job) : null;

  return (
    <>
      <h1>Load generator</h1>
      <p class="muted">
        Sends demo commands (domain <code>demo</code>) whose handlers roll each attempt with these
        odds.
      </p>
      <form
        class="load"
        onSubmit={(e) => {
          e.preventDefault();
          if (!problem) void start();
        }}
      >
        {SLIDERS.map(({ key, label, max, step, unit }) => (
          // The value is shown beside the label, not inside it: an <output> inside a
          // <label> would be the control it labels, leaving the slider unnamed.
          <div key={key} class="slider">
            <label for={`load-${key}`}>{label}</label>{' '}
            <output for={`load-${key}`}>
              {settings[key]} {unit}
            </output>
            <input
              id={`load-${key}`}
              type="range"
              name={key}
              min={0}
              max={max}
              step={step}
              value={settings[key]}
              onInput={(e) => set(key, Number(e.currentTarget.value))}
            />
          </div>
        ))}
        <label>
          Commands to send
          <input
            type="number"
            name="count"
            min={1}
            max={MAX_LOAD_COUNT}
            value={settings.count}
            onInput={(e) => set('count', Math.floor(Number(e.currentTarget.value)))}
          />
        </label>
        <section class="expected" aria-labelledby="expected-heading" aria-live="polite">
          <h2 id="expected-heading">Expected outcomes</h2>
          <dl class="facts">
            <dt>Completed</dt>
            <dd data-outcome="completed">
              {count(Math.round(expected.completed))} ({share(expected.completed)})
            </dd>
            <dt>Troubleshooting: permanent failure</dt>
            <dd data-outcome="permanent">{count(Math.round(expected.troubleshootingPermanent))}</dd>
            <dt>Troubleshooting: attempts exhausted</dt>
            <dd data-outcome="exhausted">{count(Math.round(expected.troubleshootingExhausted))}</dd>
            <dt>Attempts</dt>
            <dd data-outcome="attempts">
              {count(Math.round(expected.attempts))} ({count(Math.round(expected.retries))} retries,{' '}
              {count(Math.round(expected.timeouts))} timeouts)
            </dd>
            <dt>Mean attempt</dt>
            <dd>{Math.round(expected.meanAttemptMs)} ms</dd>
          </dl>
        </section>
        {problem && (
          <p class="error" role="alert">
            {problem}
          </p>
        )}
        {canAct ? (
          <button type="submit" disabled={busy || problem !== null}>
            Send {count(settings.count)} commands
          </button>
        ) : (
          <p class="muted">Your role may only read: sending load needs the operator role.</p>
        )}
      </form>
      <ErrorBox error={error} />
      {job && (
        <section class="job-progress" aria-label="Generation" aria-live="polite">
          <p>
            {job.label}: {job.state}
            {job.error ? ` (${job.error})` : ''}
          </p>
          <Progress label="Commands sent" done={job.done} total={job.total} failed={job.failed} />
          {batchId && (
            <p>
              <a href={href('commands', { batchId })}>Show the commands of this batch</a>
            </p>
          )}
        </section>
      )}
    </>
  );
}

/** The batch the load generator sent, from the job's result when it names one. */
function batchOf(job: Job): string | null {
  const result = job.result as { batchId?: unknown } | null;
  return result && typeof result.batchId === 'string' ? result.batchId : null;
}
