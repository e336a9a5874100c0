import { ConfigurationError } from '../core/errors.js';
import { redactSecrets } from '../core/redact.js';
import { checkDatabaseUrl } from './database-url.js';
import { readSecretFile, secretFileVariable } from './secret-file.js';
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
    const found = rawText(s, env, flags);
    if ('problem' in found) {
      problems.push(found.problem);
      continue;
    }
    const { raw, name } = found;
    if (raw === undefined) {
      values[key] = s.fallback;
      continue;
    }
    const parsed = s.schema.safeParse(raw);
    if (parsed.success) {
      values[key] = parsed.data;
    } else {
      // A secret is never echoed, not even masked: its whole text may be the secret.
      const got = s.secret ? 'the value is not shown' : `got ${JSON.stringify(raw)}`;
      problems.push(`${name} must be ${s.accepted}; ${got}`);
    }
  }
  if (problems.length > 0) throw new ConfigurationError(problems.join('\n'));
  return values as SettingValues<S>;
}

/**
 * A setting's text and where it came from: its flag, else its variable, else (for a
 * secret) the file its `_FILE` variable names. `raw` is undefined when none is set.
 */
function rawText(
  s: Setting<unknown>,
  env: Record<string, string | undefined>,
  flags: Record<string, unknown>,
): { raw: string | undefined; name: string } | { problem: string } {
  // An empty variable counts as unset, as shells make `FOO= cmd` easy to write by mistake.
  const given = (v: string | undefined): v is string => v !== undefined && v.trim() !== '';
  const fileVariable = secretFileVariable(s.env);
  const path = s.secret ? env[fileVariable] : undefined;
  if (given(path) && given(env[s.env])) {
    return {
      problem: `${s.env} and ${fileVariable} are both set; set only one (${fileVariable} names a file that holds the value, as Kubernetes and Docker mount secrets)`,
    };
  }
  const flagValue = s.flag === null ? undefined : flags[camelCase(s.flag)];
  if (flagValue !== undefined) return { raw: flagText(flagValue), name: `--${s.flag}` };
  if (given(path)) {
    const read = readSecretFile(fileVariable, path);
    return 'problem' in read ? read : { raw: read.value, name: `${fileVariable} (${path})` };
  }
  const value = env[s.env];
  return { raw: given(value) ? value : undefined, name: s.env };
}

function camelCase(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** The store and worker configuration, validated. See SETTINGS for every variable. */
export function loadConfig(sources: ConfigSources = {}): DispatchboxConfig {
  const config = resolveSettings(SETTINGS, sources);
  if (config.databaseUrl !== undefined) {
    const from = sourceOf(SETTINGS.databaseUrl, sources);
    // A URL read from a secret file is not shown at all; one from a variable or a flag is
    // shown with its password masked, as the user wrote it there.
    checkDatabaseUrl(config.databaseUrl, from.name, { show: !from.file });
  }
  checkRegistration(config, sources);
  return config;
}

/** Where a setting's value came from: its flag, its secret file or its variable. */
function sourceOf(s: Setting<unknown>, sources: ConfigSources): { name: string; file: boolean } {
  const env = sources.env ?? process.env;
  if (s.flag !== null && sources.flags?.[camelCase(s.flag)] !== undefined)
    return { name: `--${s.flag}`, file: false };
  const fileVariable = secretFileVariable(s.env);
  const path = env[fileVariable];
  if (s.secret && path !== undefined && path.trim() !== '')
    return { name: `${fileVariable} (${path})`, file: true };
  return { name: s.env, file: false };
}

/**
 * The worker registry's ages must grow: refresh < stale < forget. Checked here, for the
 * ones set, so that the message names the variables rather than the worker's options.
 */
function checkRegistration(config: DispatchboxConfig, sources: ConfigSources): void {
  const order = [
    'registrationRefreshMs',
    'registrationStaleAfterMs',
    'registrationForgetAfterMs',
  ] as const;
  const set = order.filter((key) => config[key] !== undefined);
  for (let i = 1; i < set.length; i++) {
    const [lower, higher] = [set[i - 1]!, set[i]!];
    if (config[higher]! <= config[lower]!) {
      const name = (key: (typeof order)[number]) => sourceOf(SETTINGS[key], sources).name;
      throw new ConfigurationError(
        `${name(higher)} must be more than ${name(lower)}; got ${config[higher]} <= ${config[lower]}`,
      );
    }
  }
}

/** The URL with its credentials replaced, for messages and logs (see redactSecrets). */
export const redact = redactSecrets;

/** A flag's value as the text a variable would hold: commander gives a string, or true for a bare flag. */
function flagText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value) ?? '';
}
