/**
 * The console's settings (`dispatchbox console`, and the console `dispatchbox start`
 * serves): where it listens, under which path, and the credentials it asks for.
 */
import { z } from 'zod';
import { parseConsoleUsers, type ConsoleOptions } from '../console/index.js';
import { ConfigurationError } from '../core/errors.js';
import { resolveSettings, type ConfigSources } from './load.js';
import { wholeNumber, type Setting, type SettingValues } from './settings.js';

const secret = (
  env: string,
  accepted: string,
  description: string,
): Setting<string | undefined> => ({
  env,
  flag: null,
  scope: 'console',
  accepted,
  schema: z.string().trim().min(1),
  defaultText: 'unset',
  fallback: undefined,
  description,
  secret: true,
});

export const CONSOLE_SETTINGS = {
  consolePort: {
    env: 'DISPATCHBOX_CONSOLE_PORT',
    flag: 'console-port',
    scope: 'console',
    accepted: 'a whole number from 0 to 65535 (0 picks a free port)',
    schema: wholeNumber(0, 65_535),
    defaultText: '3000',
    fallback: 3000,
    option: '—',
    description:
      'The port of the console (the page and its /api), with /health, /ready and /metrics beside it.',
  } satisfies Setting<number>,
  consoleHost: {
    env: 'DISPATCHBOX_CONSOLE_HOST',
    flag: 'console-host',
    scope: 'console',
    accepted: 'an address of this machine, such as 127.0.0.1 or 0.0.0.0',
    schema: z.string().trim().min(1).max(255),
    defaultText: '127.0.0.1',
    fallback: '127.0.0.1',
    option: '`createConsole(bus, { host })`',
    description:
      'Where the console listens. Beyond loopback (0.0.0.0 in a container) it needs `DISPATCHBOX_CONSOLE_TOKEN` or `DISPATCHBOX_CONSOLE_USERS`, and refuses to start without.',
  } satisfies Setting<string>,
  consoleBasePath: {
    env: 'DISPATCHBOX_CONSOLE_BASE_PATH',
    flag: 'console-base-path',
    scope: 'console',
    accepted: "a URL path such as '/ops/console', or unset for the root",
    schema: z.string().trim(),
    defaultText: 'unset',
    fallback: '',
    option: '`createConsole(bus, { basePath })`',
    description: 'The path the console is served under, behind a proxy that forwards that path.',
  } satisfies Setting<string>,
  consoleToken: {
    ...secret(
      'DISPATCHBOX_CONSOLE_TOKEN',
      'a token of 16 characters or more, without spaces',
      'The bearer token of the operator role (reads and acts). Once any credential is set, every request needs one, on loopback too.',
    ),
    option: '`createConsole(bus, { auth: { token } })`',
  },
  consoleViewerToken: {
    ...secret(
      'DISPATCHBOX_CONSOLE_VIEWER_TOKEN',
      'a token of 16 characters or more, without spaces',
      'The bearer token of the viewer role (reads only).',
    ),
    option: '`createConsole(bus, { auth: { viewerToken } })`',
  },
  consoleUsers: {
    ...secret(
      'DISPATCHBOX_CONSOLE_USERS',
      'comma-separated name:role:hash, role operator or viewer',
      'Users of HTTP Basic auth, each `name:operator:scrypt$…` or `name:viewer:scrypt$…`; make the hash with `dispatchbox console hash-password`.',
    ),
    option: '`createConsole(bus, { auth: { users } })`',
  },
} as const;

export type ConsoleConfig = SettingValues<typeof CONSOLE_SETTINGS>;

export function loadConsoleConfig(sources: ConfigSources = {}): ConsoleConfig {
  return resolveSettings(CONSOLE_SETTINGS, sources);
}

/** What createConsole takes from the settings; the users' entries checked, naming the variable. */
export function toConsoleOptions(config: ConsoleConfig): ConsoleOptions {
  let users;
  try {
    users = config.consoleUsers === undefined ? undefined : parseConsoleUsers(config.consoleUsers);
  } catch (error) {
    if (error instanceof ConfigurationError) throw error;
    throw new ConfigurationError(
      'DISPATCHBOX_CONSOLE_USERS could not be read; entries are name:role:hash',
    );
  }
  return {
    host: config.consoleHost,
    basePath: config.consoleBasePath,
    auth: { token: config.consoleToken, viewerToken: config.consoleViewerToken, users },
  };
}
