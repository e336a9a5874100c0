import { ConfigurationError } from '../core/errors.js';
import { resolveSettings, type ConfigSources } from './load.js';
import { decimal, wholeNumber, type Setting, type SettingValues } from './settings.js';

const percent = (env: string, flag: string, fallback: number, what: string): Setting<number> => ({
  env,
  flag,
  scope: 'demo',
  accepted: 'a percentage from 0 to 100',
  schema: decimal(0, 100),
  defaultText: String(fallback),
  fallback,
  description: `Percentage of demo attempts that ${what}.`,
});

/** The `npm start` demo's settings: its load and the odds of each outcome. */
export const DEMO_SETTINGS = {
  permanentPct: percent(
    'DISPATCHBOX_DEMO_PERMANENT_PCT',
    'permanent-pct',
    2,
    'fail permanently (straight to troubleshooting)',
  ),
  transientPct: percent(
    'DISPATCHBOX_DEMO_TRANSIENT_PCT',
    'transient-pct',
    10,
    'fail transiently (retried with backoff)',
  ),
  timeoutPct: percent(
    'DISPATCHBOX_DEMO_TIMEOUT_PCT',
    'timeout-pct',
    1,
    'hang until the handler timeout',
  ),
  minMs: {
    env: 'DISPATCHBOX_DEMO_MIN_MS',
    flag: 'min-ms',
    scope: 'demo',
    accepted: 'a whole number of milliseconds from 0 to 60000',
    schema: wholeNumber(0, 60_000),
    defaultText: '5',
    fallback: 5,
    description: 'Shortest time a demo handler works.',
  } satisfies Setting<number>,
  maxMs: {
    env: 'DISPATCHBOX_DEMO_MAX_MS',
    flag: 'max-ms',
    scope: 'demo',
    accepted: 'a whole number of milliseconds from 0 to 60000',
    schema: wholeNumber(0, 60_000),
    defaultText: '50',
    fallback: 50,
    description: 'Longest time a demo handler works.',
  } satisfies Setting<number>,
  count: {
    env: 'DISPATCHBOX_DEMO_COUNT',
    flag: 'count',
    scope: 'demo',
    accepted: 'a whole number from 0 to 10000000',
    schema: wholeNumber(0, 10_000_000),
    defaultText: '2000',
    fallback: 2000,
    description: 'Commands the demo sends.',
  } satisfies Setting<number>,
  rate: {
    env: 'DISPATCHBOX_DEMO_RATE',
    flag: 'rate',
    scope: 'demo',
    accepted: 'a whole number of commands per second from 0 (as fast as possible) to 1000000',
    schema: wholeNumber(0, 1_000_000),
    defaultText: '200',
    fallback: 200,
    description: 'Commands sent per second; 0 sends them all at once.',
  } satisfies Setting<number>,
  durationS: {
    env: 'DISPATCHBOX_DEMO_DURATION',
    flag: 'duration',
    scope: 'demo',
    accepted: 'a whole number of seconds from 1 to 86400',
    schema: wholeNumber(1, 86_400),
    defaultText: 'unset (run until Ctrl-C)',
    fallback: undefined as number | undefined,
    description: 'Stop by itself after this many seconds.',
  } satisfies Setting<number | undefined>,
} as const;

export type DemoConfig = SettingValues<typeof DEMO_SETTINGS>;

/** The demo's settings, validated, with the odds adding up to at most 100 %. */
export function loadDemoConfig(sources: ConfigSources = {}): DemoConfig {
  const config = resolveSettings(DEMO_SETTINGS, sources);
  const total = config.permanentPct + config.transientPct + config.timeoutPct;
  if (total > 100) {
    throw new ConfigurationError(
      `DISPATCHBOX_DEMO_PERMANENT_PCT + DISPATCHBOX_DEMO_TRANSIENT_PCT + DISPATCHBOX_DEMO_TIMEOUT_PCT (--permanent-pct, --transient-pct, --timeout-pct) must add up to at most 100; got ${total}`,
    );
  }
  if (config.minMs > config.maxMs) {
    throw new ConfigurationError(
      `DISPATCHBOX_DEMO_MIN_MS (--min-ms) must not exceed DISPATCHBOX_DEMO_MAX_MS (--max-ms); got ${config.minMs} > ${config.maxMs}`,
    );
  }
  return config;
}
