import { ConfigurationError } from '../core/errors.js';
import { redactSecrets } from '../core/redact.js';
import { checkDatabaseUrl } from './database-url.js';
import { SETTINGS, type Setting, type SettingValues } from './settings.js';

export { checkDatabaseUrl };

/** Where raw configuration text comes from: the environment, then CLI flags over it. */
export interface ConfigSources {
  env?: Record<string, string | undefined>;
  /** Flag values by commander's camelCase option name (`--lease-ms` → `leaseMs`). */
  flags?: Record<string, unknown>;
}

export type DispatchboxConfig = SettingValues<typeof SETTINGS>;

/**
 * Reads every setting of `settings` from flags (first) and environment variables, and
 * validates all of them before anything starts. Throws one ConfigurationError that lists
 * every bad value, each naming its variable or flag and what it accepts.
 */
export function resolveSettings<S extends Record<string, Setting<unknown>>>(
  settings: S,
  sources: ConfigSources,
): SettingValues<S> {
  const env = sources.env ?? process.env;
  const flags = sources.flags ?? {};
  const values: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, s] of Object.entries(settings)) {
    const flagValue = s.flag === null ? undefined : flags[camelCase(s.flag)];
    const fromFlag = flagValue !== undefined;
    const raw = fromFlag ? flagText(flagValue) : env[s.env];
    // An empty variable counts as unset, as shells make `FOO= cmd` easy to write by mistake.
    if (raw === undefined || (!fromFlag && raw.trim() === '')) {
      values[key] = s.fallback;
      continue;
    }
    const parsed = s.schema.safeParse(raw);
    if (parsed.success) {
      values[key] = parsed.data;
    } else {
      const name = fromFlag ? `--${s.flag}` : s.env;
      problems.push(`${name} must be ${s.accepted}; got ${JSON.stringify(raw)}`);
    }
  }
  if (problems.length > 0) throw new ConfigurationError(problems.join('\n'));
  return values as SettingValues<S>;
}

function camelCase(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** The store and worker configuration, validated. See SETTINGS for every variable. */
export function loadConfig(sources: ConfigSources = {}): DispatchboxConfig {
  const config = resolveSettings(SETTINGS, sources);
  if (config.databaseUrl !== undefined) {
    const fromFlag = sources.flags?.['databaseUrl'] !== undefined;
    checkDatabaseUrl(config.databaseUrl, fromFlag ? '--database-url' : 'DISPATCHBOX_DATABASE_URL');
  }
  return config;
}

/** The URL with its credentials replaced, for messages and logs (see redactSecrets). */
export const redact = redactSecrets;

/** A flag's value as the text a variable would hold: commander gives a string, or true for a bare flag. */
function flagText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value) ?? '';
}
