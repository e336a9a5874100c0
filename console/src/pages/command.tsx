/**
 * One command: its payload, result, error, attempts and headers; the audit timeline
 * (who did what, and the payload before and after an edit); its batch with progress; the
 * commands that caused it and those it sent; its correlation; and the actions on it.
 * It follows the command live (the stream's `command` events).
 */
import { Fragment } from 'preact';
import { useCallback } from 'preact/hooks';
import { api } from '../api';
import { CommandActions } from '../components/command-actions';
import { ErrorBox, Json, Loading, Progress, StateBadge } from '../components/common';
import { count, shortId, time } from '../format';
import { useLoad } from '../hooks';
import { useWatchedCommand } from '../live';
import { commandHref, href } from '../route';
import { useCanAct } from '../session';
import type { AuditRecord, Command, CommandDetail } from '../types';

export function CommandPage({ id }: { id: string }) {
  const detail = useLoad(
    () => api.get<CommandDetail>(`/commands/${encodeURIComponent(id)}`),
    `command ${id}`,
  );
  const canAct = useCanAct();
  const reload = useCallback(() => void detail.reload(), [detail.reload]);
  useWatchedCommand(id, reload);

  const data = detail.data;
  if (!data) return detail.error ? <ErrorBox error={detail.error} /> : <Loading />;
  const c = data.command;

  return (
    <>
      <p>
        <a href="#/commands">← Commands</a>
      </p>
      <h1>
        {c.domain} / {c.type} <StateBadge state={c.state} />
      </h1>
      <dl class="facts">
        <dt>Id</dt>
        <dd class="mono">{c.id}</dd>
        <dt>Attempts</dt>
        <dd>
          {c.attempts}
          {c.maxAttempts ? ` of ${c.maxAttempts}` : ''}
        </dd>
        <dt>Priority</dt>
        <dd>{c.priority}</dd>
        <dt>Created</dt>
        <dd>{time(c.createdAt)}</dd>
        <dt>Runs at</dt>
        <dd>{time(c.runAt)}</dd>
        <dt>Updated</dt>
        <dd>{time(c.updatedAt)}</dd>
        {c.workerId && (
          <>
            <dt>Worker</dt>
            <dd class="mono">{c.workerId}</dd>
          </>
        )}
        {c.idempotencyKey && (
          <>
            <dt>Idempotency key</dt>
            <dd class="mono">{c.idempotencyKey}</dd>
          </>
        )}
        {c.correlationId && (
          <>
            <dt>Correlation</dt>
            <dd>
              <a href={href('commands', { correlationId: c.correlationId })}>
                {c.correlationId} ({count(data.correlated)} commands)
              </a>
            </dd>
          </>
        )}
      </dl>
      {canAct && <CommandActions key={c.id} command={c} changed={reload} />}
      {c.lastError && (
        <section aria-labelledby="error-heading">
          <h2 id="error-heading">
            {c.state === 'troubleshooting' ? 'Last error' : 'Last error (of an earlier attempt)'}
          </h2>
          <p class="error-text">
            <strong>{c.lastError.code}</strong>: {c.lastError.message}
          </p>
          {c.lastError.details !== undefined && (
            <Json label="Error details" value={c.lastError.details} />
          )}
        </section>
      )}
      <div class="columns">
        <section aria-labelledby="payload-heading">
          <h2 id="payload-heading">Payload</h2>
          <Json label="Payload" value={c.data} />
        </section>
        <section aria-labelledby="result-heading">
          <h2 id="result-heading">Result</h2>
          <Json label="Result" value={c.result} />
        </section>
      </div>
      {Object.keys(c.headers).length > 0 && (
        <section aria-labelledby="headers-heading">
          <h2 id="headers-heading">Headers</h2>
          <dl class="facts">
            {Object.entries(c.headers).map(([name, value]) => (
              <Fragment key={name}>
                <dt>{name}</dt>
                <dd>{value}</dd>
              </Fragment>
            ))}
          </dl>
        </section>
      )}
      {data.batch && (
        <section aria-labelledby="batch-heading">
          <h2 id="batch-heading">Batch</h2>
          <p>
            <a href={href('commands', { batchId: data.batch.id })}>
              {data.batch.name ?? data.batch.id}
            </a>{' '}
            ({data.batch.status.replace(/_/g, ' ')})
          </p>
          <Progress
            label="Batch progress"
            done={
              data.batch.counts.completed +
              data.batch.counts.cancelled +
              data.batch.counts.troubleshooting
            }
            total={data.batch.counts.total}
            failed={data.batch.counts.troubleshooting}
          />
        </section>
      )}
      <Related
        title="Caused by"
        id="causes"
        commands={data.causes}
        empty="Sent by no other command."
      />
      <Related
        title="Commands it sent"
        id="sent"
        commands={data.sent}
        empty="It sent no commands."
      />
      <AuditTimeline audit={data.audit} />
    </>
  );
}

function Related({
  title,
  id,
  commands,
  empty,
}: {
  title: string;
  id: string;
  commands: Command[];
  empty: string;
}) {
  return (
    <section aria-labelledby={`${id}-heading`}>
      <h2 id={`${id}-heading`}>{title}</h2>
      {commands.length === 0 ? (
        <p class="muted">{empty}</p>
      ) : (
        <ol class="related">
          {commands.map((c) => (
            <li key={c.id}>
              <a href={commandHref(c.id)}>
                {c.domain} / {c.type}
              </a>{' '}
              <StateBadge state={c.state} /> <span class="mono muted">{shortId(c.id)}</span>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}

function AuditTimeline({ audit }: { audit: AuditRecord[] }) {
  return (
    <section aria-labelledby="audit-heading">
      <h2 id="audit-heading">Audit</h2>
      <ol class="timeline">
        {audit.map((record, index) => (
          <li key={index} class="audit-entry">
            <div>
              <time dateTime={record.at}>{time(record.at)}</time>{' '}
              {record.fromState ? <StateBadge state={record.fromState} /> : 'sent'} →{' '}
              <StateBadge state={record.toState} />
              {record.attempt > 0 && <span> attempt {record.attempt}</span>}
              {record.actor && <span class="actor"> by {record.actor}</span>}
              {record.workerId && <span class="muted"> on {record.workerId}</span>}
            </div>
            {record.reason && <div>Reason: {record.reason}</div>}
            {record.error && (
              <div class="error-text">
                {record.error.code}: {record.error.message}
              </div>
            )}
            {record.details && (
              <details>
                <summary>Payload edited</summary>
                <div class="columns">
                  <div>
                    <h3>Before</h3>
                    <Json label="Payload before" value={record.details.dataBefore} />
                  </div>
                  <div>
                    <h3>After</h3>
                    <Json label="Payload after" value={record.details.dataAfter} />
                  </div>
                </div>
              </details>
            )}
          </li>
        ))}
      </ol>
    </section>
  );
}
