/**
 * The life cycle of a command. See docs/lifecycle.md for the diagram.
 *
 * - `pending`: waiting to be claimed. Moved here by `send`, by a retry after a transient
 *   failure, by a snooze or a rate limit (no attempt spent), by lease expiry (the attempt
 *   counts), by a graceful shutdown hand-back (no attempt spent) and by an operator retry.
 * - `in_progress`: claimed by a worker that holds its lease and fencing token.
 * - `completed`: the handler succeeded, or an operator completed it. Terminal.
 * - `cancelled`: an operator or the application cancelled it. Terminal.
 * - `troubleshooting`: a permanent error, or attempts exhausted. Waits for an operator.
 */
export const COMMAND_STATES = [
  'pending',
  'in_progress',
  'completed',
  'cancelled',
  'troubleshooting',
] as const;

export type CommandState = (typeof COMMAND_STATES)[number];

/** States from which the store never moves a command by itself. */
export const TERMINAL_STATES: readonly CommandState[] = ['completed', 'cancelled'];

/** States in which a command still counts as unfinished for its batch. */
export const ACTIVE_STATES: readonly CommandState[] = ['pending', 'in_progress'];

export function isCommandState(value: string): value is CommandState {
  return (COMMAND_STATES as readonly string[]).includes(value);
}
