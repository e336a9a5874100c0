/**
 * An operator action (retry, cancel, complete) on many commands: a selection of ids, or
 * everything a filter matches. A filter is walked in keyset pages, oldest first, and each
 * page is acted on with bounded concurrency; between pages the walk yields to the event
 * loop and looks at its signal, so the server keeps answering and a cancel stops it. A
 * command whose state changed meanwhile is counted as failed, not raised: over thousands
 * of commands a worker or another operator moving a few is expected.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { CommandBus, CommandFilter } from '../bus/bus.js';
import type { Command } from '../core/command.js';
import { checkActor, checkReason } from '../bus/input-checks.js';
import {
  CommandNotFoundError,
  type DispatchboxError,
  InvalidStateError,
  ValidationError,
} from '../core/errors.js';
import { toJsonText } from '../core/json.js';
import type { JobControl } from './types.js';

export const BULK_ACTIONS = ['retry', 'cancel', 'complete'] as const;
export type BulkAction = (typeof BULK_ACTIONS)[number];

/** Commands read and acted on per step; progress is reported after each. */
export const BULK_CHUNK = 500;
/** Actions in flight at once: enough to hide the store's round trip, few enough to share it. */
export const BULK_CONCURRENCY = 16;
/** The largest selection `applyToIds` takes; a larger set is a filter's job. */
export const MAX_SELECTION = 1000;

export interface ActionParams {
  action: BulkAction;
  reason?: string | undefined;
  /** The result recorded by `complete`. */
  result?: unknown;
  /** Who acts: recorded in every command's audit trail. */
  actor: string;
}

export interface FilterActionParams extends ActionParams {
  filter: CommandFilter;
}
/** The same, by the name the actions route knows it by. */
export type FilterAction = FilterActionParams;

export interface Applied {
  applied: number;
  failed: number;
}

/** Applies `action` to every command matching `filter` (see the module's comment). */
export function applyToFilter(
  bus: CommandBus,
  params: FilterActionParams,
  job: JobControl,
): Promise<Applied> {
  return applyToMatching(bus, params, () => true, job);
}

/**
 * `applyToFilter` on the commands the filter matches and `match` accepts: a predicate the
 * store cannot evaluate (an error fingerprint), computed on each page.
 */
export async function applyToMatching(
  bus: CommandBus,
  params: FilterActionParams,
  match: (command: Command) => boolean,
  job: JobControl,
): Promise<Applied> {
  checkActionParams(params);
  const tally: Applied = { applied: 0, failed: 0 };
  let afterId: string | undefined;
  while (!job.signal.aborted) {
    const page = await bus.list({ ...params.filter, order: 'asc', afterId, limit: BULK_CHUNK });
    const outcomes = await mapBounded(page.filter(match), BULK_CONCURRENCY, async (command) => {
      try {
        await act(bus, command.id, params);
        return true;
      } catch (error) {
        if (isRefusal(error)) return false;
        throw error;
      }
    });
    for (const ok of outcomes) tally[ok ? 'applied' : 'failed'] += 1;
    job.progress(tally.applied + tally.failed, tally.failed);
    if (page.length < BULK_CHUNK) break;
    afterId = page.at(-1)!.id;
    await nextTurn();
  }
  return tally;
}

/** How many commands the filter matches and `match` accepts: a walk of the same pages. */
export async function countMatching(
  bus: CommandBus,
  filter: CommandFilter,
  match: (command: Command) => boolean,
): Promise<number> {
  let count = 0;
  let afterId: string | undefined;
  for (;;) {
    const page = await bus.list({ ...filter, order: 'asc', afterId, limit: BULK_CHUNK });
    for (const command of page) if (match(command)) count += 1;
    if (page.length < BULK_CHUNK) return count;
    afterId = page.at(-1)!.id;
    await nextTurn();
  }
}

export interface Refused {
  id: string;
  /** The HTTP status the refusal would have had on its own (404, 409, 400). */
  status: number;
  /** The library error class: InvalidStateError, CommandNotFoundError, … */
  title: string;
  detail: string;
}

/**
 * Applies `action` to a selection (at most MAX_SELECTION ids, repeats ignored): each id
 * is acted on or refused on its own, with the reason it was refused.
 */
export async function applyToIds(
  bus: CommandBus,
  params: ActionParams & { ids: string[] },
): Promise<{ applied: string[]; refused: Refused[] }> {
  checkActionParams(params);
  if (!Array.isArray(params.ids) || params.ids.some((id) => typeof id !== 'string')) {
    throw new ValidationError('ids must be an array of command ids', 'ids');
  }
  const ids = [...new Set(params.ids)];
  if (ids.length === 0) throw new ValidationError('ids must name at least one command', 'ids');
  if (ids.length > MAX_SELECTION) {
    throw new ValidationError(
      `ids names ${ids.length} commands; a selection takes at most ${MAX_SELECTION}: act on a filter instead`,
      'ids',
    );
  }
  const applied: string[] = [];
  const refused: Refused[] = [];
  await mapBounded(ids, BULK_CONCURRENCY, async (id) => {
    try {
      await act(bus, id, params);
      applied.push(id);
    } catch (error) {
      if (!isRefusal(error)) throw error;
      refused.push({ id, status: refusalStatus(error), title: error.name, detail: error.message });
    }
  });
  // in the order given, whatever order the actions finished in
  const order = new Map(ids.map((id, i) => [id, i]));
  applied.sort((a, b) => order.get(a)! - order.get(b)!);
  refused.sort((a, b) => order.get(a.id)! - order.get(b.id)!);
  return { applied, refused };
}

function act(bus: CommandBus, id: string, params: ActionParams): Promise<Command> {
  const by = { actor: params.actor, reason: params.reason };
  switch (params.action) {
    case 'retry':
      return bus.retry(id, by);
    case 'cancel':
      return bus.cancel(id, by);
    case 'complete':
      return bus.complete(id, params.result ?? null, by);
  }
}

/** The same for every command, so checked once, before any is touched. */
function checkActionParams(params: ActionParams): void {
  if (!BULK_ACTIONS.includes(params.action)) {
    throw new ValidationError(
      `action must be one of ${BULK_ACTIONS.join(', ')}; got ${JSON.stringify(params.action)}`,
      'action',
    );
  }
  checkActor(params.actor);
  checkReason(params.reason);
  if (params.action === 'complete') toJsonText(params.result ?? null, 'result');
}

/**
 * Errors that refuse one command and leave the others to go on: its state changed, or it
 * is gone. Anything else (the store is down) stops the whole.
 */
function isRefusal(error: unknown): error is DispatchboxError {
  return error instanceof InvalidStateError || error instanceof CommandNotFoundError;
}

function refusalStatus(error: DispatchboxError): number {
  return error instanceof CommandNotFoundError ? 404 : 409;
}

/** `fn` on every item, at most `limit` at a time; results in the items' order. */
async function mapBounded<T, R>(
  items: T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i]!);
      } catch (error) {
        next = items.length; // the other lanes take nothing more
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}
