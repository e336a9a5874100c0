import { ValidationError } from '../core/errors.js';
import { isUuid } from '../core/ids.js';
import { allFinished, countIn, COMMAND_STATES, INITIAL_STATES } from '../core/lifecycle.js';
import type { BatchCounts, BatchStatus } from './backend.js';

/** States a command reaches once it has started: every state but those it is sent into. */
const STARTED_STATES = COMMAND_STATES.filter((s) => !INITIAL_STATES.includes(s));

/**
 * A batch's status, derived from its live counts, the same way on every store, so the
 * status never contradicts the counts shown beside it. Before the batch has finished it
 * is `pending` until a command of it has started (or was cancelled), then `in_progress`.
 * Once finished, an operator can still move a member out of troubleshooting (retry,
 * complete, cancel): a retried member makes the batch `in_progress` again until it
 * settles, and the batch is `completed` once every member has completed,
 * `completed_with_failures` while any is cancelled or in troubleshooting. The completion
 * command is not sent again: it went out once, when the batch first finished, with the
 * status and counts of that moment.
 */
export function batchStatus(counts: BatchCounts, finished: boolean): BatchStatus {
  if (finished && allFinished(counts))
    return counts.completed === counts.total ? 'completed' : 'completed_with_failures';
  // A pending member that failed an attempt (`failed`) has started too.
  const started = countIn(counts, STARTED_STATES) > 0 || counts.failed > 0;
  return finished || started ? 'in_progress' : 'pending';
}

/**
 * Refuses a listBatches cursor that is no batch id, naming it, on every store alike (the
 * SQL stores' ids are uuid: PostgreSQL would refuse it with an error of its own).
 */
export function checkBatchCursor(afterId: string | undefined): void {
  if (afterId !== undefined && !isUuid(afterId))
    throw new ValidationError(
      `afterId must be a batch id (a UUID), got ${JSON.stringify(afterId)}: pass the last id of the previous page`,
      'afterId',
    );
}
