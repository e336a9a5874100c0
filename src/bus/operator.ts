import type { Command } from '../core/command.js';
import { CommandNotFoundError } from '../core/errors.js';
import { isUuid } from '../core/ids.js';
import type { Backend, OperatorAction } from '../backends/backend.js';
import { checkActor, checkReason } from './input-checks.js';
import type { OperatorOptions } from './params.js';

/**
 * Applies an operator's action to command `id` (retry, cancel, complete), the actor and
 * reason checked first: bad input changes nothing.
 */
export async function operate(
  backend: Backend,
  id: string,
  action: OperatorAction,
  options: OperatorOptions,
): Promise<Command> {
  if (!isUuid(id)) throw new CommandNotFoundError(id);
  return backend.operate({
    ...action,
    id,
    actor: checkActor(options.actor),
    reason: checkReason(options.reason),
  });
}
