/**
 * Writes the transition table of docs/lifecycle.md from the lifecycle table in
 * src/core/lifecycle.ts, between the markers below, so the docs cannot drift from the
 * code: `npm run docs:lifecycle` rewrites it, `npm run docs:lifecycle -- --check` only
 * says whether it is up to date (test/unit/lifecycle.test.ts fails when it is not).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  ACTIVE_STATES,
  COMMAND_STATES,
  OPERATOR_ACTIONS,
  OPERATOR_RULES,
  STATE_DESCRIPTIONS,
  TERMINAL_STATES,
  TRANSITIONS,
  type CommandState,
  type GivenText,
  type Transition,
} from '../src/core/lifecycle.js';
import { markdownTable as table } from './markdown-table.js';

export const START = '<!-- lifecycle-table:start -->';
export const END = '<!-- lifecycle-table:end -->';
export const DOC_PATH = fileURLToPath(new URL('../docs/lifecycle.md', import.meta.url));

const code = (text: string) => `\`${text}\``;
const states = (list: readonly string[]) => list.map(code).join(', ');

function given(text: string | GivenText): string {
  if (typeof text === 'string') return code(text);
  return text.default === undefined ? text.given : `${text.given}, else ${code(text.default)}`;
}

function audited(t: Transition): string {
  const { actor, reason } = t.audit;
  return actor === null
    ? `reason ${given(reason)}`
    : `actor ${given(actor)}; reason ${given(reason)}`;
}

function row(t: Transition): string[] {
  return [
    t.name,
    t.from === null ? '(new)' : code(t.from),
    code(t.to),
    t.by.join(', '),
    t.attempts,
    audited(t),
    t.when,
  ];
}

/** How a state is left: by a worker or the store, only by an operator, or never. */
function leftBy(state: CommandState): string {
  if (ACTIVE_STATES.includes(state)) return 'active: a worker or the store moves it on';
  if (TERMINAL_STATES.includes(state)) return 'terminal: never moved again, pruned by retention';
  return 'settled: only an operator moves it on';
}

/** The generated part of the page, markers excluded. */
export function renderLifecycleTable(): string {
  const header = ['Transition', 'From', 'To', 'Who moves it', 'Attempts', 'Audited as', 'When'];
  const stateRows = COMMAND_STATES.map((s) => [code(s), STATE_DESCRIPTIONS[s], leftBy(s)]);
  const operator = OPERATOR_ACTIONS.map((action) => {
    const rule = OPERATOR_RULES[action];
    return `${action} (${states(rule.from)} → ${code(rule.to)})`;
  });
  return [
    `<!-- Generated from src/core/lifecycle.ts by \`npm run docs:lifecycle\`: edit the table there. -->`,
    '',
    ...table(['State', 'Meaning', 'Left'], stateRows),
    '',
    ...table(header, TRANSITIONS.map(row)),
    '',
    `- **A batch is finished** once none of its members is active (${states(ACTIVE_STATES)}).`,
    `- **Operator actions**: ${operator.join('; ')}. From any other state they are refused with \`InvalidStateError\`, changing nothing.`,
  ].join('\n');
}

/** `doc` with its generated part replaced by the table as the code has it now. */
export function withLifecycleTable(doc: string): string {
  const start = doc.indexOf(START);
  const end = doc.indexOf(END);
  if (start < 0 || end < start)
    throw new Error(`docs/lifecycle.md must hold the markers ${START} and then ${END}`);
  // Blank lines around the generated part, as Prettier wants them after a list.
  return `${doc.slice(0, start + START.length)}\n${renderLifecycleTable()}\n\n${doc.slice(end)}`;
}

function main(): void {
  const doc = readFileSync(DOC_PATH, 'utf8');
  const updated = withLifecycleTable(doc);
  if (process.argv.includes('--check')) {
    if (updated !== doc) {
      console.error('docs/lifecycle.md is out of date: run npm run docs:lifecycle');
      process.exitCode = 1;
    }
    return;
  }
  if (updated !== doc) writeFileSync(DOC_PATH, updated);
  console.log(updated === doc ? 'docs/lifecycle.md is up to date' : 'docs/lifecycle.md updated');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
