/**
 * Commands: the list, filtered by the URL (state, domain, type, error code, batch,
 * correlation, time range, payload text), newest first, a page at a time (keyset: the
 * "next" cursor goes in the URL as `after`). It reloads when the live counts change.
 * Rows can be selected for retry/cancel, or the action applied to all N matching.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, query } from '../api';
import { BulkAction } from '../components/bulk';
import { ErrorBox, Loading, Notice, StateBadge } from '../components/common';
import { FilterForm } from '../components/filter-form';
import { count, shortId, time } from '../format';
import { filterFrom, type Filter } from '../filters';
import { useLoad } from '../hooks';
import { useLiveCounts } from '../live';
import { commandHref, href, navigate } from '../route';
import { useCanAct } from '../session';
import type { Action, Command, Job } from '../types';

const PAGE_SIZE = 50;

interface ActionsAnswer {
  applied: string[];
  refused: { id: string; status: number; title: string; detail: string }[];
}

export function CommandsPage({ params }: { params: URLSearchParams }) {
  const filter = filterFrom(params);
  const after = params.get('after') ?? undefined;
  const key = JSON.stringify([filter, after]);
  const list = useLoad(
    () =>
      api.get<{ commands: Command[]; next: string | null }>(
        `/commands${query({ ...filter, limit: PAGE_SIZE, order: 'desc', after })}`,
      ),
    key,
  );
  const matching = useLoad(
    () => api.get<{ count: number }>(`/commands/count${query(filter)}`),
    JSON.stringify(filter),
  );
  const canAct = useCanAct();
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [outcome, setOutcome] = useState<string | null>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  useEffect(() => setSelected(new Set()), [key]);

  // The list follows the live counts: reloaded when the totals move (at most every 2 s).
  const liveCounts = useLiveCounts();
  const lastTotals = useRef('');
  const lastReload = useRef(0);
  useEffect(() => {
    const totals = JSON.stringify(liveCounts?.totals ?? null);
    if (!liveCounts || totals === lastTotals.current) return;
    const first = lastTotals.current === '';
    lastTotals.current = totals;
    if (first || Date.now() - lastReload.current < 2000) return;
    lastReload.current = Date.now();
    void list.reload();
    void matching.reload();
  }, [liveCounts]);

  const show = (next: Filter) => navigate(href('commands', next));
  const commands = list.data?.commands ?? [];

  const actOnSelection = async (action: Action) => {
    setActionError(null);
    setOutcome(null);
    try {
      const answer = await api.post<ActionsAnswer>('/commands/actions', {
        action,
        ids: [...selected],
      });
      const refused = answer.refused.map((r) => `${shortId(r.id)}: ${r.detail}`);
      setOutcome(
        `${action}: ${count(answer.applied.length)} done` +
          (refused.length ? `, ${count(refused.length)} refused (${refused.join('; ')})` : ''),
      );
      setSelected(new Set());
      await Promise.all([list.reload(), matching.reload()]);
    } catch (caught) {
      setActionError(caught);
    }
  };

  const toggle = (id: string) =>
    setSelected((current) => {
      const next = new Set(current);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
  const allSelected = commands.length > 0 && commands.every((c) => selected.has(c.id));

  return (
    <>
      <h1>Commands</h1>
      <FilterForm filter={filter} apply={show} />
      <p class="matching" aria-live="polite">
        {matching.data ? `${count(matching.data.count)} matching` : ''}
      </p>
      <ErrorBox error={list.error ?? matching.error} />
      {canAct && (
        <section class="actions" aria-label="Act on commands">
          <div class="row">
            <span>{count(selected.size)} selected</span>
            <button
              type="button"
              disabled={selected.size === 0}
              onClick={() => void actOnSelection('retry')}
            >
              Retry selected
            </button>
            <button
              type="button"
              disabled={selected.size === 0}
              onClick={() => void actOnSelection('cancel')}
            >
              Cancel selected
            </button>
          </div>
          {matching.data && (
            <BulkAction
              id="all-matching"
              matching={matching.data.count}
              noun="matching"
              start={(request) =>
                api.post<{ job: Job }>('/commands/actions', { ...request, filter })
              }
            />
          )}
          {outcome && <Notice>{outcome}</Notice>}
          <ErrorBox error={actionError} />
        </section>
      )}
      {!list.data ? (
        list.error ? null : (
          <Loading />
        )
      ) : commands.length === 0 ? (
        <p class="muted">No commands match.</p>
      ) : (
        <div class="scroll">
          <table class="commands">
            <thead>
              <tr>
                {canAct && (
                  <th scope="col">
                    <input
                      type="checkbox"
                      aria-label="Select every command on this page"
                      checked={allSelected}
                      onChange={() =>
                        setSelected(allSelected ? new Set() : new Set(commands.map((c) => c.id)))
                      }
                    />
                  </th>
                )}
                <th scope="col">Command</th>
                <th scope="col">State</th>
                <th scope="col">Domain / type</th>
                <th scope="col" class="num">
                  Attempts
                </th>
                <th scope="col">Error</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {commands.map((c) => (
                <tr key={c.id} class={selected.has(c.id) ? 'selected' : undefined}>
                  {canAct && (
                    <td>
                      <input
                        type="checkbox"
                        aria-label={`Select command ${c.id}`}
                        checked={selected.has(c.id)}
                        onChange={() => toggle(c.id)}
                      />
                    </td>
                  )}
                  <td>
                    <a href={commandHref(c.id)} class="mono">
                      {shortId(c.id)}
                    </a>
                  </td>
                  <td>
                    <StateBadge state={c.state} />
                  </td>
                  <td>
                    {c.domain} / {c.type}
                  </td>
                  <td class="num">
                    {c.attempts}
                    {c.maxAttempts ? `/${c.maxAttempts}` : ''}
                  </td>
                  <td class="error-cell">{c.lastError ? c.lastError.code : ''}</td>
                  <td>{time(c.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <nav class="pager" aria-label="Pages of commands">
        {after && (
          <a class="button" href={href('commands', filter)}>
            First page
          </a>
        )}
        {list.data?.next && (
          <a class="button" href={href('commands', { ...filter, after: list.data.next })}>
            Next page
          </a>
        )}
      </nav>
    </>
  );
}
