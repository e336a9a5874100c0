import type { CommandError, JsonValue } from './command.js';
import { HandlerError } from './errors.js';
import { storableText, toJsonText } from './json.js';

/** Longest message kept, in UTF-16 units; the rest is cut and marked with an ellipsis. */
export const MAX_ERROR_MESSAGE = 4000;
/** Longest code kept: codes are meant for programs, a few words at most. */
const MAX_ERROR_CODE = 200;
/** Largest details kept, in characters of JSON: an error record is not a place for data. */
const MAX_ERROR_DETAILS = 64 * 1024;

/**
 * Turns whatever was thrown into the error record stored on the command and its audit,
 * and never throws itself: a handler may throw anything, and a description that failed
 * would leave the command without an outcome and the worker with a rejection no one
 * handles. Whatever was thrown, the record is one every store can hold: text is made
 * storable and cut to length, and details that are not plain JSON are replaced by a note
 * saying why, since an outcome the store refused would be retried for ever.
 *
 * Each part is read on its own, so a value whose `message` getter throws still keeps its
 * code, and one with no string form at all (`Object.create(null)`, a revoked Proxy) is
 * described by what it is.
 */
export function describeError(error: unknown): CommandError {
  const handlerError = isInstance(error, HandlerError);
  const anError = handlerError || isInstance(error, Error);
  const code = attempt(() => codeOf(error, anError), null);
  const described: CommandError = {
    code: code === null ? 'ERROR' : storableText(cut(code, MAX_ERROR_CODE)),
    message: storableText(cut(messageOf(error, anError), MAX_ERROR_MESSAGE)),
  };
  if (handlerError) {
    let details: unknown;
    try {
      details = error.details;
    } catch (reason) {
      details = { unstorable: `the error's details cannot be read${because(reason)}` };
    }
    if (details !== undefined) described.details = storableDetails(details);
  }
  return described;
}

/** `instanceof` that answers false where the check itself throws (a revoked Proxy). */
export function isInstance<T>(
  value: unknown,
  type: abstract new (...args: never[]) => T,
): value is T {
  return attempt(() => value instanceof type, false);
}

function attempt<T>(read: () => T, fallback: T): T {
  try {
    return read();
  } catch {
    return fallback;
  }
}

function codeOf(error: unknown, anError: boolean): string | null {
  if (!anError) return null;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && code !== '' ? code : null;
}

function messageOf(error: unknown, anError: boolean): string {
  if (typeof error === 'string') return error || 'an empty string was thrown';
  if (anError) {
    const text = attempt(() => {
      const { message, name } = error as Error;
      if (typeof message === 'string' && message !== '') return message;
      return typeof name === 'string' && name !== '' ? name : null;
    }, null);
    if (text !== null) return text;
  }
  return (
    attempt<string | null>(() => {
      const text = String(error);
      return text === '' ? `${typeof error} with an empty string form was thrown` : text;
    }, null) ?? unreadable(error)
  );
}

/** What to say of a thrown value that has no string form, naming why when the reason reads. */
function unreadable(value: unknown): string {
  let why = '';
  try {
    String(value);
  } catch (reason) {
    why = because(reason);
  }
  return `the handler threw a value (${attempt(() => typeof value, 'object')}) that cannot be turned into text${why}`;
}

/** `: <message>` of an error thrown while reading a value, or nothing when it has none. */
function because(reason: unknown): string {
  return attempt(() => {
    const message = (reason as Error | undefined)?.message;
    return typeof message === 'string' && message !== '' ? `: ${cut(message, 200)}` : '';
  }, '');
}

function storableDetails(details: unknown): JsonValue {
  try {
    const text = toJsonText(details, 'details');
    if (text.length <= MAX_ERROR_DETAILS) return details as JsonValue;
    return {
      unstorable: `details are ${text.length} characters of JSON, over the limit of ${MAX_ERROR_DETAILS}`,
    };
  } catch (error) {
    return {
      unstorable: storableText(
        cut(
          attempt(() => String((error as Error).message), 'details are not plain JSON'),
          MAX_ERROR_MESSAGE,
        ),
      ),
    };
  }
}

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
