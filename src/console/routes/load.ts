import type { ConsoleApi, ConsoleDeps } from '../types.js';

/** Registers the /api routes of this module on `api`. */
export function registerLoadRoutes(_api: ConsoleApi, _deps: ConsoleDeps): void {}
