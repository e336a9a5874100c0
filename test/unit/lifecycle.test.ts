import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  ACTIVE_STATES,
  allFinished,
  canMove,
  COMMAND_STATES,
  countIn,
  countKeyOf,
  deriveRules,
  FINISHED_STATES,
  INITIAL_STATES,
  isCommandState,
  isFinishedForBatch,
  OPERATOR_ACTIONS,
  OPERATOR_RULES,
  OPERATOR_STATES,
  TERMINAL_STATES,
  TRANSITIONS,
  type Transition,
} from '../../src/core/lifecycle.js';
import * as states from '../../src/core/states.js';
import {
  DOC_PATH,
  END,
  renderLifecycleTable,
  START,
  withLifecycleTable,
} from '../../scripts/lifecycle-table.js';

const counts = (c: Partial<Record<string, number>>) => ({
  pending: 0,
  inProgress: 0,
  completed: 0,
  cancelled: 0,
  troubleshooting: 0,
  ...c,
});

describe('the lifecycle table', () => {
  it('is what docs/lifecycle.md shows (run npm run docs:lifecycle when this fails)', () => {
    const doc = readFileSync(DOC_PATH, 'utf8');
    expect(doc).toBe(withLifecycleTable(doc));
    expect(doc).toContain(renderLifecycleTable());
  });

  it('rewrites only the part between the markers, and refuses a page without them', () => {
    const page = `# title\n\nbefore\n${START}\nstale table\n${END}\nafter\n`;
    const updated = withLifecycleTable(page);
    expect(updated.startsWith(`# title\n\nbefore\n${START}\n`)).toBe(true);
    expect(updated.endsWith(`${END}\nafter\n`)).toBe(true);
    expect(updated).not.toContain('stale table');
    expect(withLifecycleTable(updated)).toBe(updated);
    expect(() => withLifecycleTable('# no markers')).toThrow(/must hold the markers/);
    expect(() => withLifecycleTable(`${END}\n${START}`)).toThrow(/must hold the markers/);
  });

  it('names each transition once, between states there are, and reaches every state', () => {
    const names = TRANSITIONS.map((t) => t.name);
    expect(new Set(names).size).toBe(names.length);
    for (const t of TRANSITIONS) {
      expect(t.from === null || isCommandState(t.from), t.name).toBe(true);
      expect(isCommandState(t.to), t.name).toBe(true);
      expect(t.by.length, t.name).toBeGreaterThan(0);
      expect(t.when.length, t.name).toBeGreaterThan(0);
    }
    // every state can be reached from a send
    const reached = new Set<string>(INITIAL_STATES);
    for (let grew = true; grew;) {
      grew = false;
      for (const t of TRANSITIONS)
        if (t.from !== null && reached.has(t.from) && !reached.has(t.to)) {
          reached.add(t.to);
          grew = true;
        }
    }
    expect([...reached].sort()).toEqual([...COMMAND_STATES].sort());
  });

  it('derives the terminal, active and finished states', () => {
    expect(INITIAL_STATES).toEqual(['pending']);
    expect(TERMINAL_STATES).toEqual(['completed', 'cancelled']);
    expect(ACTIVE_STATES).toEqual(['pending', 'in_progress']);
    expect(FINISHED_STATES).toEqual(['completed', 'cancelled', 'troubleshooting']);
    for (const s of COMMAND_STATES)
      expect(isFinishedForBatch(s), s).toBe(!ACTIVE_STATES.includes(s));
    // the names states.ts has always exported are the same values
    expect(states.COMMAND_STATES).toBe(COMMAND_STATES);
    expect(states.TERMINAL_STATES).toBe(TERMINAL_STATES);
    expect(states.ACTIVE_STATES).toBe(ACTIVE_STATES);
    expect(states.isCommandState('in_progress')).toBe(true);
    expect(states.isCommandState('waiting')).toBe(false);
  });

  it('derives the operator rules', () => {
    expect(OPERATOR_RULES).toEqual({
      retry: { from: ['troubleshooting'], to: 'pending', attempts: 'reset to 0' },
      cancel: { from: ['pending', 'troubleshooting'], to: 'cancelled', attempts: 'none' },
      complete: { from: ['troubleshooting'], to: 'completed', attempts: 'none' },
    });
    expect(OPERATOR_STATES).toEqual(['pending', 'troubleshooting']);
    for (const action of OPERATOR_ACTIONS)
      for (const from of OPERATOR_RULES[action].from)
        expect(canMove(from, OPERATOR_RULES[action].to)).toBe(true);
    expect(canMove('in_progress', 'cancelled')).toBe(false);
    expect(canMove(null, 'pending')).toBe(true);
  });

  it('refuses a table whose operator action has two targets', () => {
    const bad: Transition<'a' | 'b' | 'c'>[] = [
      { ...TRANSITIONS[0]!, name: 'x', from: 'a', to: 'b', action: 'retry' },
      { ...TRANSITIONS[0]!, name: 'y', from: 'b', to: 'c', action: 'retry' },
    ];
    expect(() => deriveRules(['a', 'b', 'c'], bad)).toThrow(/retry must move/);
  });

  it('counts by state under the keys batch counts use, and says when all are finished', () => {
    expect(countKeyOf('in_progress')).toBe('inProgress');
    expect(countKeyOf('troubleshooting')).toBe('troubleshooting');
    expect(countIn(counts({ pending: 2, inProgress: 3, completed: 4 }), ACTIVE_STATES)).toBe(5);
    expect(allFinished(counts({ completed: 4, cancelled: 1, troubleshooting: 2 }))).toBe(true);
    expect(allFinished(counts({ completed: 4, inProgress: 1 }))).toBe(false);
    expect(allFinished(counts({ pending: 1 }))).toBe(false);
  });

  it('makes a new state a change of the table: the rules follow it', () => {
    // Workflows' waiting state: sent into it, moved on to pending by the store.
    type S = (typeof COMMAND_STATES)[number] | 'waiting';
    const withWaiting: Transition<S>[] = [
      ...TRANSITIONS,
      { ...TRANSITIONS[0]!, name: 'send to wait', from: null, to: 'waiting' },
      { ...TRANSITIONS[0]!, name: 'ready', from: 'waiting', to: 'pending', by: ['system'] },
      {
        ...TRANSITIONS.find((t) => t.name === 'cancel')!,
        name: 'cancel waiting',
        from: 'waiting',
      },
    ];
    const rules = deriveRules<S>([...COMMAND_STATES, 'waiting'], withWaiting);
    expect(rules.initial).toEqual(['pending', 'waiting']);
    expect(rules.active).toEqual(['pending', 'in_progress', 'waiting']);
    expect(rules.terminal).toEqual(['completed', 'cancelled']);
    expect(rules.operator.cancel.from).toEqual(['pending', 'troubleshooting', 'waiting']);
    expect(rules.operatorStates).toEqual(['pending', 'troubleshooting', 'waiting']);
  });

  it('still has the active states the stores probe for by name', () => {
    // A tripwire for whoever adds a state: the SQL batch probes (sql/batches.ts: ready,
    // counts, prune), its partial indexes (migrations 1 and 4) and the Redis Lua scripts
    // look for these two by name. A new active state must be taught to them too.
    expect(ACTIVE_STATES).toEqual(['pending', 'in_progress']);
  });
});
