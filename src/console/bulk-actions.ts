/**
 * An operator action applied to every command matching a filter, as a background job:
 * the matching commands read a page at a time (keyset, oldest first), the action applied
 * to each, progress reported per chunk. A command whose state changed meanwhile (so the
 * action no longer applies) is counted failed, not an error of the job.
 */
import type { CommandBus, CommandFilter } from '../bus/bus.js';
import { CommandNotFoundError, InvalidStateError } from '../core/errors.js';
import type { JobControl } from './types.js';

/** Commands read and acted on per step; the job yields to the event loop between steps. */
export const BULK_CHUNK = 500;

export interface FilterAction {
  action: 'retry' | 'cancel' | 'complete';
  filter: CommandFilter;
  reason?: string | undefined;
  /** The result recorded by `complete`. */
  result?: unknown;
  /** Who acts: recorded in every command's audit. */
  actor: string;
}

export async function applyToFilter(
  bus: CommandBus,
  { action, filter, reason, result, actor }: FilterAction,
  job: JobControl,
): Promise<{ applied: number; failed: number }> {
  let applied = 0;
  let failed = 0;
  let afterId: string | undefined;
  for (;;) {
    if (job.signal.aborted) break;
    const page = await bus.list({ ...filter, limit: BULK_CHUNK, order: 'asc', afterId });
    for (const command of page) {
      try {
        if (action === 'retry') await bus.retry(command.id, { actor, reason });
        else if (action === 'cancel') await bus.cancel(command.id, { actor, reason });
        else await bus.complete(command.id, result ?? null, { actor, reason });
        applied++;
      } catch (error) {
        if (!(error instanceof InvalidStateError || error instanceof CommandNotFoundError))
          throw error;
        failed++;
      }
    }
    job.progress(applied + failed, failed);
    if (page.length < BULK_CHUNK) break;
    afterId = page.at(-1)!.id;
    await new Promise((resolve) => setImmediate(resolve));
  }
  return { applied, failed };
}
