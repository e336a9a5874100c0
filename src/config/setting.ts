import ms from 'ms';
import { z } from 'zod';

/**
 * One configuration setting: where it comes from (a DISPATCHBOX_* variable and, for most,
 * a CLI flag), what it accepts (said in words, for the error message and the generated
 * table in docs/configuration.md) and the zod schema that turns the raw text into a value.
 */
export interface Setting<T> {
  env: string;
  /** The CLI flag, long form without dashes; null when there is only the variable. */
  flag: string | null;
  /** Where the setting applies: opening the store, running a worker, operating the process, the console, the demo. */
  scope: 'store' | 'worker' | 'operations' | 'console' | 'streams' | 'demo';
  /** Completes "X must be …". */
  accepted: string;
  schema: z.ZodType<T, string>;
  /** The default as documented; the value itself comes from `fallback`. */
  defaultText: string;
  fallback: T;
  description: string;
  /**
   * The option that sets it in code, when it is not the createDispatchbox option (store
   * settings) or the bus.worker option (worker settings) of the setting's own name.
   */
  option?: string | undefined;
  /**
   * A secret (a password in a URL): also read from the file `<env>_FILE` names, as
   * Kubernetes and Docker mount secrets, and never echoed in an error.
   */
  secret?: true | undefined;
}

export type SettingValues<S extends Record<string, Setting<unknown>>> = {
  [K in keyof S]: S[K] extends Setting<infer T> ? T : never;
};

/** Checks a setting's shape where it is written, keeping its value type. */
export function setting<T>(s: Setting<T>): Setting<T> {
  return s;
}

export const text = (s: z.ZodType<string, string>) => s;

/** A whole number from `min` to `max`, written in decimal digits. */
export function wholeNumber(min: number, max: number): z.ZodType<number, string> {
  return z
    .string()
    .trim()
    .regex(/^\d+$/)
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
}

/** A number (fractions allowed) from `min` to `max`. */
export function decimal(min: number, max: number): z.ZodType<number, string> {
  return z
    .string()
    .trim()
    .regex(/^\d+(\.\d+)?$/)
    .transform(Number)
    .pipe(z.number().min(min).max(max));
}

export const booleanText: z.ZodType<boolean, string> = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.enum(['true', 'false', '1', '0', 'yes', 'no']))
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/**
 * A duration in ms's syntax ('500ms', '30s', '7d'; a bare number is milliseconds) from
 * `min` to `max` milliseconds; with `zeroMeansOff`, also '0'.
 */
export function duration(
  min: number,
  max: number,
  zeroMeansOff = false,
): z.ZodType<number, string> {
  return z
    .string()
    .trim()
    .transform((v) =>
      zeroMeansOff && v === '0' ? 0 : (ms(v as ms.StringValue) as number | undefined),
    )
    .pipe(
      z
        .number()
        .refine((n) => (zeroMeansOff && n === 0) || (n >= min && n <= max))
        .transform(Math.round),
    );
}

/** Domain, type and worker names: letters, digits and _ . : -, starting with a letter or digit. */
export const nameOf = (max: number) => new RegExp(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,${max - 1}}$`);

/** A comma-separated list of domain or type names; empty items are ignored. */
export const nameList: z.ZodType<string[] | undefined, string> = z
  .string()
  .transform((v) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0),
  )
  .pipe(z.array(z.string().regex(nameOf(128))).min(1));

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
