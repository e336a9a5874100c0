import type { CommandState } from './states.js';

/** JSON as stored: what a payload and a result may be. */
export type JsonValue =
  string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface CommandError {
  code: string;
  message: string;
  details?: JsonValue | undefined;
}

/** A command as the store holds it. */
export interface Command<TData = JsonValue> {
  id: string;
  domain: string;
  type: string;
  data: TData;
  state: CommandState;
  priority: number;
  /** Attempts started so far (a claim starts one; a snooze or rate-limit hand-back gives it back). */
  attempts: number;
  /**
   * Attempts allowed: as the send named them, else as the handler's retry policy had them
   * in the worker that claimed the command last; null while neither is known (the send
   * named none and no worker has claimed it yet).
   */
  maxAttempts: number | null;
  runAt: Date;
  createdAt: Date;
  updatedAt: Date;
  correlationId: string | null;
  causationId: string | null;
  batchId: string | null;
  idempotencyKey: string | null;
  /** Headers sent with the command (SendOptions.headers), names in lower case; `{}` when none. */
  headers: Record<string, string>;
  lastError: CommandError | null;
  result: JsonValue | null;
  workerId: string | null;
  leaseExpiresAt: Date | null;
}

/** What a backend receives to store a new command; everything validated and defaulted. */
export interface NewCommand {
  id: string;
  /**
   * The caller chose the id (SendOptions.id), so a command with it may exist already. An
   * id the bus made (a UUIDv7) cannot, and a store may skip the duplicate check for it.
   */
  idFromCaller?: boolean | undefined;
  domain: string;
  type: string;
  /** The payload, already serialised to JSON text (validated and size-checked). */
  dataJson: string;
  /**
   * The payload as sent, when the sender has it: a backend may return it as the stored
   * command's data instead of parsing `dataJson` back.
   */
  data?: JsonValue | undefined;
  priority: number;
  /** As the send named them; null: the retry policy of the handler that runs it decides. */
  maxAttempts: number | null;
  /** Milliseconds from the store's clock until the command may run (0 = now). */
  delayMs: number;
  /** An absolute run time; wins over delayMs when set. */
  runAt: Date | null;
  correlationId: string | null;
  causationId: string | null;
  batchId: string | null;
  idempotencyKey: string | null;
  /** Checked headers (see checkHeaders), names in lower case; absent when none. */
  headers?: Record<string, string> | undefined;
}

/** A command handed to a worker by a claim: the command plus the lease it holds. */
export interface ClaimedCommand extends Command {
  /** The fencing token of this claim; every settle must present it. */
  leaseToken: string;
  /** Always known once claimed: the send's, else the claiming worker's handler policy. */
  maxAttempts: number;
}

/** What an operator's action changed besides the state, kept with its audit record. */
export interface AuditDetails {
  /** An edit before a retry: the payload before and after it. */
  dataBefore?: JsonValue | undefined;
  dataAfter?: JsonValue | undefined;
}

/** One audit record: a transition of one command. */
export interface AuditRecord {
  commandId: string;
  at: Date;
  fromState: CommandState | null;
  toState: CommandState;
  attempt: number;
  workerId: string | null;
  actor: string | null;
  reason: string | null;
  error: CommandError | null;
  /** What the transition changed besides the state (an edited payload); absent when nothing. */
  details?: AuditDetails | null | undefined;
}
