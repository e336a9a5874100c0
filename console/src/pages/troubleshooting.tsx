/**
 * Troubleshooting: the commands that need a person, grouped by error fingerprint (the
 * code and the message with ids and numbers masked), largest group first. Each group has
 * a bulk action (its count confirmed) and links to its commands and to a sample one,
 * where the payload can be edited and the command replayed.
 */
import { useEffect, useRef } from 'preact/hooks';
import { api, query } from '../api';
import { BulkAction } from '../components/bulk';
import { ErrorBox, Loading, Notice } from '../components/common';
import { count, time } from '../format';
import { useLoad } from '../hooks';
import { useJobs } from '../jobs';
import { useLiveCounts } from '../live';
import { commandHref, href, navigate } from '../route';
import { useCanAct } from '../session';
import type { FingerprintGroup, Job } from '../types';

interface Groups {
  groups: FingerprintGroup[];
  scanned: number;
  truncated: boolean;
}

export function TroubleshootingPage({ params }: { params: URLSearchParams }) {
  const domain = params.get('domain') ?? '';
  const type = params.get('type') ?? '';
  const groups = useLoad(
    () => api.get<Groups>(`/troubleshooting/groups${query({ domain, type })}`),
    `${domain}/${type}`,
  );
  const canAct = useCanAct();

  // The groups follow the live count of commands in troubleshooting, and a bulk action
  // finishing: either one changing loads them again.
  const finished = useJobs().filter((job) => job.state !== 'running').length;
  const inTroubleshooting = useLiveCounts()?.totals.troubleshooting;
  const first = useRef(true);
  useEffect(() => {
    if (first.current) first.current = false;
    else void groups.reload();
  }, [finished, inTroubleshooting]);

  return (
    <>
      <h1>Troubleshooting</h1>
      <form
        class="filters"
        aria-label="Filter groups"
        onSubmit={(e) => {
          e.preventDefault();
          const form = new FormData(e.currentTarget);
          const field = (name: string) => {
            const value = form.get(name);
            return typeof value === 'string' ? value.trim() : '';
          };
          navigate(href('troubleshooting', { domain: field('domain'), type: field('type') }));
        }}
      >
        <label>
          Domain
          <input name="domain" defaultValue={domain} />
        </label>
        <label>
          Type
          <input name="type" defaultValue={type} />
        </label>
        <div class="row">
          <button type="submit">Apply filters</button>
        </div>
      </form>
      <ErrorBox error={groups.error} />
      {!groups.data ? (
        groups.error ? null : (
          <Loading />
        )
      ) : groups.data.groups.length === 0 ? (
        <p class="muted">Nothing is in troubleshooting.</p>
      ) : (
        <>
          {groups.data.truncated && (
            <Notice>
              Grouped the first {count(groups.data.scanned)} commands only; narrow by domain or type
              to see the rest.
            </Notice>
          )}
          <ol class="groups">
            {groups.data.groups.map((group) => (
              <GroupCard key={group.fingerprint} group={group} canAct={canAct} />
            ))}
          </ol>
        </>
      )}
    </>
  );
}

function GroupCard({ group, canAct }: { group: FingerprintGroup; canAct: boolean }) {
  const commands = href('commands', {
    state: 'troubleshooting',
    errorCode: group.code,
    ...(group.domains.length === 1 ? { domain: group.domains[0] } : {}),
    ...(group.types.length === 1 ? { type: group.types[0] } : {}),
  });
  return (
    <li class="group card" aria-label={`${group.code}: ${count(group.count)} commands`}>
      <h2>
        <span class="group-count">{count(group.count)}</span> <code>{group.code}</code>
      </h2>
      <p class="group-message">{group.message}</p>
      <p class="muted">
        {group.domains.join(', ')} · {group.types.join(', ')} · from {time(group.oldestAt)} to{' '}
        {time(group.newestAt)}
      </p>
      <p class="row">
        <a href={commands}>Show the commands</a>
        <a href={commandHref(group.sampleId)}>Open an example (edit and replay)</a>
      </p>
      {canAct && (
        <BulkAction
          id={`group-${group.fingerprint}`}
          matching={group.count}
          noun="in this group"
          start={(request) =>
            api.post<{ job: Job }>(
              `/troubleshooting/groups/${encodeURIComponent(group.fingerprint)}/actions`,
              request,
            )
          }
        />
      )}
    </li>
  );
}
