import type { JsonValue } from '../core/command.js';
import type { SendOptions } from '../core/send-options.js';
import type { CommandState } from '../core/states.js';

/** The parameters of the bus's sends, reads and operator actions (re-exported by bus.ts). */

export interface SendItem extends SendOptions {
  domain: string;
  type: string;
  data: unknown;
}

export interface OperatorOptions {
  /** Who acts: a user name, a service. Recorded in the audit trail. */
  actor?: string | undefined;
  reason?: string | undefined;
}

export interface RetryOptions extends OperatorOptions {
  /**
   * Edit then retry: the command's new payload, checked as a send's is (the handler's
   * schema, the size limit). The old and new payloads are kept in the audit record.
   */
  data?: unknown;
}

export interface CreateBatchOptions {
  name?: string | undefined;
  id?: string | undefined;
  commands: Iterable<SendItem> | AsyncIterable<SendItem>;
  /**
   * A command sent durably when every command of the batch has finished. It carries the
   * `headers` given here, checked as a send's are, and inherits none from the batch's
   * commands (which may each carry different ones).
   */
  onComplete?:
    | {
        domain: string;
        type: string;
        data?: JsonValue | undefined;
        headers?: Record<string, string> | undefined;
      }
    | undefined;
}

/** A page of `list`: a filter, at most `limit` commands (default 100), ids after `afterId`. */
export interface ListParams extends CommandFilter {
  limit?: number | undefined;
  /** Id order: 'asc' oldest first (default), 'desc' newest first. */
  order?: 'asc' | 'desc' | undefined;
  /** Keyset pagination: the last id of the previous page. */
  afterId?: string | undefined;
}

/** Which commands an operator query means; every field narrows it. */
export interface CommandFilter {
  state?: CommandState | undefined;
  domain?: string | undefined;
  type?: string | undefined;
  /** The code of the command's last error. */
  errorCode?: string | undefined;
  batchId?: string | undefined;
  correlationId?: string | undefined;
  /** The commands a command sent: those whose causationId is this id. */
  causationId?: string | undefined;
  /** Created at or after this time. */
  createdAfter?: Date | undefined;
  /** Created before this time. */
  createdBefore?: Date | undefined;
  /** The payload's JSON text contains this, ignoring case (a scan: narrow it with the others). */
  text?: string | undefined;
}

/** What `bus.listTroubleshooting` filters on. */
export interface TroubleshootingFilter {
  domain?: string | undefined;
  type?: string | undefined;
  errorCode?: string | undefined;
  limit?: number | undefined;
  afterId?: string | undefined;
}
