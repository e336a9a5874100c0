/**
 * The states of a command. They, their transitions and every rule about them are defined
 * once, in lifecycle.ts (see docs/lifecycle.md for the diagram); this module keeps the
 * names the rest of the code has always imported.
 *
 * - `pending`: waiting to be claimed. Moved here by `send`, by a retry after a transient
 *   failure, by a snooze or a rate limit (no attempt spent), by lease expiry (the attempt
 *   counts), by a graceful shutdown hand-back (no attempt spent) and by an operator retry.
 * - `in_progress`: claimed by a worker that holds its lease and fencing token.
 * - `completed`: the handler succeeded, or an operator completed it. Terminal.
 * - `cancelled`: an operator or the application cancelled it. Terminal.
 * - `troubleshooting`: a permanent error, or attempts exhausted. Waits for an operator.
 */
export {
  ACTIVE_STATES,
  COMMAND_STATES,
  isCommandState,
  TERMINAL_STATES,
  type CommandState,
} from './lifecycle.js';
