/**
 * Writes the tables of docs/configuration.md from the settings themselves
 * (src/config/settings.ts, worker-settings.ts, console.ts and demo.ts), between the markers below, so
 * the page cannot drift from the code: `npm run docs:configuration` rewrites them,
 * `npm run docs:configuration -- --check` only says whether they are up to date
 * (test/unit/configuration-table.test.ts fails when they are not).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CONSOLE_SETTINGS } from '../src/config/console.js';
import { DEMO_SETTINGS } from '../src/config/demo.js';
import { STREAMS_SETTINGS } from '../src/config/streams.js';
import { secretFileVariable } from '../src/config/secret-file.js';
import type { Setting } from '../src/config/setting.js';
import { SETTINGS } from '../src/config/settings.js';
import { markdownTable } from './markdown-table.js';

export const START = '<!-- configuration-table:start -->';
export const END = '<!-- configuration-table:end -->';
export const DOC_PATH = fileURLToPath(new URL('../docs/configuration.md', import.meta.url));

type Scope = Setting<unknown>['scope'];

const GROUPS: { scope: Scope; title: string; intro: string }[] = [
  {
    scope: 'store',
    title: 'Store',
    intro:
      'Which store, and how it is opened and used. The flags are global: `dispatchbox --database-url … tsq list`.',
  },
  {
    scope: 'worker',
    title: 'Worker',
    intro:
      'How `dispatchbox worker` and `dispatchbox start` run handlers; in an application, the defaults of `bus.worker()` and of handler registration. The flags belong to `worker` and `start`.',
  },
  {
    scope: 'operations',
    title: 'Operations',
    intro: 'What the process tells its operators: logs, health endpoints, metrics, the stats line.',
  },
  {
    scope: 'console',
    title: 'Console',
    intro:
      'The operator console (`dispatchbox console`, and the one `dispatchbox start` serves): where it listens and who may use it (docs/console.md).',
  },
  {
    scope: 'streams',
    title: 'Streams',
    intro:
      'The stream handler modules (`dispatchbox streams`) and the outbox relay (`dispatchbox relay`): the transport, the handlers, deduplication (docs/streams.md). Their health port is `DISPATCHBOX_HEALTH_PORT`.',
  },
  {
    scope: 'demo',
    title: 'Demo',
    intro: 'The load of the demo (`npm start`, `dispatchbox start`) and the odds of each outcome.',
  },
];

const code = (text: string) => `\`${text}\``;

/** A default that is one value is shown as code; one said in words is shown as words. */
function defaultCell(text: string): string {
  return text !== 'unset' && /^[\w./:-]+$/.test(text) ? code(text) : text;
}

function variableCell(s: Setting<unknown>): string {
  return s.secret ? `${code(s.env)} or ${code(secretFileVariable(s.env))}` : code(s.env);
}

function optionCell(s: Setting<unknown>, key: string): string {
  if (s.option !== undefined) return s.option;
  if (s.scope === 'store') return code(`createDispatchbox({ ${key} })`);
  if (s.scope === 'worker') return code(`bus.worker({ ${key} })`);
  return '—';
}

function meaningCell(s: Setting<unknown>): string {
  const secret = s.secret
    ? ` A secret: ${code(secretFileVariable(s.env))} names a file that holds it instead, and it never appears in an error.`
    : '';
  return `${s.description}${secret}`;
}

/** The generated part of the page, markers excluded. */
export function renderConfigurationTables(): string {
  const all = [
    ...Object.entries(SETTINGS),
    ...Object.entries(CONSOLE_SETTINGS),
    ...Object.entries(STREAMS_SETTINGS),
    ...Object.entries(DEMO_SETTINGS),
  ] as [string, Setting<unknown>][];
  const header = ['Variable', 'Flag', 'Default', 'Accepted', 'In code', 'Meaning'];
  const parts = [
    '<!-- Generated from src/config/settings.ts, worker-settings.ts, console.ts, streams.ts and demo.ts by `npm run docs:configuration`: edit the settings there. -->',
  ];
  for (const group of GROUPS) {
    const rows = all
      .filter(([, s]) => s.scope === group.scope)
      .map(([key, s]) => [
        variableCell(s),
        s.flag === null ? '' : code(`--${s.flag}`),
        defaultCell(s.defaultText),
        s.accepted,
        optionCell(s, key),
        meaningCell(s),
      ]);
    parts.push('', `### ${group.title}`, '', group.intro, '', ...markdownTable(header, rows));
  }
  return parts.join('\n');
}

/** `doc` with its generated part replaced by the tables as the code has them now. */
export function withConfigurationTables(doc: string): string {
  const start = doc.indexOf(START);
  const end = doc.indexOf(END);
  if (start < 0 || end < start)
    throw new Error(`docs/configuration.md must hold the markers ${START} and then ${END}`);
  return `${doc.slice(0, start + START.length)}\n${renderConfigurationTables()}\n\n${doc.slice(end)}`;
}

function main(): void {
  const doc = readFileSync(DOC_PATH, 'utf8');
  const updated = withConfigurationTables(doc);
  if (process.argv.includes('--check')) {
    if (updated !== doc) {
      console.error('docs/configuration.md is out of date: run npm run docs:configuration');
      process.exitCode = 1;
    }
    return;
  }
  if (updated !== doc) writeFileSync(DOC_PATH, updated);
  console.log(
    updated === doc ? 'docs/configuration.md is up to date' : 'docs/configuration.md updated',
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
