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
}
