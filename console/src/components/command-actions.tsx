/**
 * The actions on one command: retry, edit the payload then retry (JSON checked here
 * before it is sent), cancel, and complete with a result. Each may carry a reason, which
 * the audit keeps with the operator's name.
 */
import { useState } from 'preact/hooks';
import { api } from '../api';
import type { Command } from '../types';
import { ErrorBox, Notice } from './common';

type Mode = 'none' | 'edit' | 'complete';

/** The text as JSON, or the reason it is not. */
export function parseJson(text: string): { value: unknown } | { error: string } {
  try {
    return { value: JSON.parse(text) as unknown };
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

export function CommandActions({
  command,
  changed,
}: {
  command: Command;
  changed: (command: Command) => void;
}) {
  const [reason, setReason] = useState('');
  const [mode, setMode] = useState<Mode>('none');
  const [payload, setPayload] = useState(() => JSON.stringify(command.data, null, 2));
  const [result, setResult] = useState('null');
  const [invalid, setInvalid] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  /** What the last action did, and the state it left the command in. */
  const [done, setDone] = useState<{ text: string; state: string } | null>(null);
  const [busy, setBusy] = useState(false);

  const act = async (action: 'retry' | 'cancel' | 'complete', extra: object = {}) => {
    setBusy(true);
    setError(null);
    setDone(null);
    try {
      const body = { ...(reason.trim() ? { reason: reason.trim() } : {}), ...extra };
      const answer = await api.post<{ command: Command }>(
        `/commands/${encodeURIComponent(command.id)}/${action}`,
        body,
      );
      const state = answer.command.state;
      setDone({ text: `${action}: the command is now ${state.replace('_', ' ')}.`, state });
      setMode('none');
      changed(answer.command);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };

  const withJson = (text: string, what: string, send: (value: unknown) => void) => {
    const parsed = parseJson(text);
    if ('error' in parsed) {
      setInvalid(`The ${what} is not valid JSON: ${parsed.error}. Fix it and try again.`);
      return;
    }
    setInvalid(null);
    send(parsed.value);
  };

  // The lifecycle's operator rules (docs/lifecycle.md): retry and complete take a command
  // in troubleshooting; cancel takes one pending or in troubleshooting.
  const inTroubleshooting = command.state === 'troubleshooting';
  const cancellable = inTroubleshooting || command.state === 'pending';
  if (!cancellable)
    return (
      <section class="actions" aria-labelledby="actions-heading">
        <h2 id="actions-heading">Actions</h2>
        <p class="muted">
          None: a command that is {command.state.replace('_', ' ')} can be neither retried,
          cancelled nor completed.
        </p>
        {done && done.state === command.state && <Notice>{done.text}</Notice>}
      </section>
    );

  return (
    <section class="actions" aria-labelledby="actions-heading">
      <h2 id="actions-heading">Actions</h2>
      <label>
        Reason
        <input
          name="reason"
          value={reason}
          placeholder="optional, kept in the audit"
          onInput={(e) => setReason(e.currentTarget.value)}
        />
      </label>
      <div class="row">
        {inTroubleshooting && (
          <button type="button" disabled={busy} onClick={() => void act('retry')}>
            Retry
          </button>
        )}
        {inTroubleshooting && (
          <button
            type="button"
            disabled={busy}
            aria-expanded={mode === 'edit'}
            onClick={() => setMode(mode === 'edit' ? 'none' : 'edit')}
          >
            Edit payload and retry…
          </button>
        )}
        <button type="button" class="danger" disabled={busy} onClick={() => void act('cancel')}>
          Cancel command
        </button>
        {inTroubleshooting && (
          <button
            type="button"
            disabled={busy}
            aria-expanded={mode === 'complete'}
            onClick={() => setMode(mode === 'complete' ? 'none' : 'complete')}
          >
            Complete with a result…
          </button>
        )}
      </div>
      {inTroubleshooting && mode === 'edit' && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            withJson(payload, 'payload', (data) => void act('retry', { data }));
          }}
        >
          <label>
            Payload (JSON)
            <textarea
              name="payload"
              rows={10}
              spellcheck={false}
              value={payload}
              onInput={(e) => setPayload(e.currentTarget.value)}
            />
          </label>
          <button type="submit" disabled={busy}>
            Save payload and retry
          </button>
        </form>
      )}
      {inTroubleshooting && mode === 'complete' && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            withJson(result, 'result', (value) => void act('complete', { result: value }));
          }}
        >
          <label>
            Result (JSON)
            <textarea
              name="result"
              rows={4}
              spellcheck={false}
              value={result}
              onInput={(e) => setResult(e.currentTarget.value)}
            />
          </label>
          <button type="submit" disabled={busy}>
            Complete
          </button>
        </form>
      )}
      {invalid && (
        <p class="error" role="alert">
          {invalid}
        </p>
      )}
      <ErrorBox error={error} />
      {/* Shown until the command moves on (the worker takes it, say). */}
      {done && done.state === command.state && <Notice>{done.text}</Notice>}
    </section>
  );
}
