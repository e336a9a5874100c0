/**
 * Checks of what operators and batch creators pass the bus besides commands: who acts and
 * why, a batch's name and its completion command's names. Each is refused with a
 * ValidationError naming the field before anything reaches a store.
 */
import { ValidationError } from '../core/errors.js';
import { checkStorableText } from '../core/json.js';
import { checkName } from '../core/registry.js';

const MAX_ACTOR = 255;
const MAX_REASON = 10_000;
const MAX_BATCH_NAME = 255;

/**
 * An operator's actor or reason, or a batch's name: absent (null), or text of 1 to `max`
 * characters that every store can hold.
 */
function optionalText(value: unknown, path: string, max: number): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || value.length === 0 || value.length > max) {
    throw new ValidationError(
      `${path} must be text of 1 to ${max} characters, or left out; got ${typeof value === 'string' ? `${value.length} characters` : typeof value}`,
      path,
    );
  }
  return checkStorableText(value, path);
}

/** The domain or type of a batch's completion command, checked as a send's are. */
export function completionName(value: unknown, what: 'domain' | 'type'): string {
  try {
    return checkName(value, what);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    throw new ValidationError(`onComplete.${error.message}`, `onComplete.${what}`);
  }
}

/** An operator action's actor: 1 to 255 characters; 'operator' when left out. */
export function checkActor(value: unknown): string {
  return optionalText(value, 'actor', MAX_ACTOR) ?? 'operator';
}

/** An operator action's reason: up to 10,000 characters, or null. */
export function checkReason(value: unknown): string | null {
  return optionalText(value, 'reason', MAX_REASON);
}

/** A batch's name: up to 255 characters, or null. */
export function checkBatchName(value: unknown): string | null {
  return optionalText(value, 'name', MAX_BATCH_NAME);
}
