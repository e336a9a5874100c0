import type { JsonValue, NewCommand } from '../core/command.js';
import { PayloadTooLargeError, UnknownHandlerError, ValidationError } from '../core/errors.js';
import { toJsonText } from '../core/json.js';
import { parseWithSchema, type HandlerRegistry } from '../core/registry.js';
import { buildNewCommand } from '../core/send-options.js';
import type { SendItem } from './params.js';

/** What checking a send needs of its bus. */
export interface SendChecks {
  registry: HandlerRegistry;
  /** Refuse a domain and type with no handler registered. */
  strict: boolean;
  /** Largest payload accepted, in bytes of JSON. */
  maxPayloadBytes: number;
}

/**
 * The error of the item at `where` of a list (`[3]`): a ValidationError's message names
 * the item first. Without `where`, or for another error, it is returned unchanged.
 * (A catch clause calls it, rather than a wrapper taking a closure: a send makes no
 * closure for it.)
 */
export function atItem(error: unknown, where: string): unknown {
  if (where && error instanceof ValidationError) error.message = `${where} ${error.message}`;
  return error;
}

/** A payload (a command's data, an event's) as JSON text, refused past `maxBytes`. */
export function payloadJson(value: unknown, maxBytes: number): string {
  const json = toJsonText(value, 'data');
  const bytes = Buffer.byteLength(json);
  if (bytes > maxBytes) throw new PayloadTooLargeError(bytes, maxBytes);
  return json;
}

/**
 * Validates everything about a send and returns the command to store, without storing
 * it; throws a ValidationError instead. `where` prefixes error messages (`[3]`).
 */
export function prepareCommand(checks: SendChecks, item: SendItem, where = ''): NewCommand {
  if (typeof item !== 'object' || item === null) {
    throw new ValidationError(
      `${where ? `${where} ` : ''}a command to send must be an object { domain, type, data, ...options }; got ${item === null ? 'null' : typeof item}`,
      null,
    );
  }
  const { domain, type, data, ...options } = item;
  try {
    const handler = checks.registry.get(domain, type);
    if (!handler && checks.strict) throw new UnknownHandlerError(domain, type);
    const checked = handler?.schema ? parseWithSchema(handler.schema, data) : data;
    const dataJson = payloadJson(checked, checks.maxPayloadBytes);
    return buildNewCommand({ domain, type, dataJson, data: checked as JsonValue, options });
  } catch (error) {
    throw atItem(error, where);
  }
}
