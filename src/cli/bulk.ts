import type { CommandBus, CommandFilter, OperatorOptions } from '../bus/bus.js';
import { CommandNotFoundError, InvalidStateError } from '../core/errors.js';

export type BulkAction = 'retry' | 'cancel';

export interface BulkOutcome {
  /** Commands the filter picked when the action began. */
  matched: number;
  /** False when the operator did not pass --yes: nothing was changed. */
  confirmed: boolean;
  /** Ids acted on, each with its own audit record. */
  acted: string[];
  /** Ids that had left troubleshooting (or gone) before their turn. */
  skipped: string[];
}

/** Ids read per page while collecting what a filter picks. */
const PAGE = 1000;
/** Actions in flight at once: enough to hide round trips, few enough to leave the store room. */
const IN_FLIGHT = 16;

/**
 * Retries or cancels every command `filter` picks, one operator action per command (so
 * each is audited exactly as a one-by-one action is). Without `confirmed`, only counts.
 * The ids are collected first, so commands that arrive meanwhile are not swept along.
 */
export async function bulkAct(
  bus: CommandBus,
  action: BulkAction,
  filter: CommandFilter,
  operator: OperatorOptions,
  confirmed: boolean,
): Promise<BulkOutcome> {
  const ids: string[] = [];
  let afterId: string | undefined;
  for (;;) {
    const page = await bus.list({ ...filter, afterId, limit: PAGE });
    ids.push(...page.map((c) => c.id));
    if (page.length < PAGE) break;
    afterId = page.at(-1)!.id;
  }
  const outcome: BulkOutcome = { matched: ids.length, confirmed, acted: [], skipped: [] };
  if (!confirmed) return outcome;
  for (let i = 0; i < ids.length; i += IN_FLIGHT) {
    await Promise.all(
      ids.slice(i, i + IN_FLIGHT).map(async (id) => {
        try {
          await (action === 'retry' ? bus.retry(id, operator) : bus.cancel(id, operator));
          outcome.acted.push(id);
        } catch (error) {
          if (!(error instanceof InvalidStateError || error instanceof CommandNotFoundError))
            throw error;
          outcome.skipped.push(id);
        }
      }),
    );
  }
  return outcome;
}

/** "(domain billing, type charge-card)" for the messages; empty for --all. */
export function describeFilter(filter: CommandFilter): string {
  const parts = [
    filter.domain && `domain ${filter.domain}`,
    filter.type && `type ${filter.type}`,
    filter.errorCode && `error code ${filter.errorCode}`,
  ].filter(Boolean);
  return parts.length ? `(${parts.join(', ')})` : '(all)';
}
