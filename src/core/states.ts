/**
 * The states of a command, under the names the rest of the code has always imported. They,
 * what each means, their transitions and every rule about them are defined once, in
 * lifecycle.ts; docs/lifecycle.md draws them and lists the transitions (generated).
 */
export {
  ACTIVE_STATES,
  COMMAND_STATES,
  isCommandState,
  TERMINAL_STATES,
  type CommandState,
} from './lifecycle.js';
