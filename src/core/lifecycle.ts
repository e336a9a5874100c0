/**
 * The command life cycle as data: every state, and every transition between them with
 * who makes it, what it does to the attempt count and how the stores audit it. The rules
 * the rest of the code needs (terminal states, when a batch member is finished, which
 * states an operator action applies to) are derived from this table below, the table in
 * docs/lifecycle.md is generated from it (`npm run docs:lifecycle`), and the conformance
 * suite checks every store against it.
 *
 * How to add a state (workflows' `waiting`, say):
 * 1. Add it to COMMAND_STATES and describe it in STATE_DESCRIPTIONS.
 * 2. Add every transition into and out of it to TRANSITIONS. Who moves it out decides
 *    the derived rules: a state a worker or the system moves on its own keeps its batch
 *    open (ACTIVE_STATES); a state nothing moves out of is terminal; a transition with an
 *    `action` is an operator action, offered by the bus, the CLI and both stores.
 * 3. Run `npm run docs:lifecycle`, and draw the state in the diagram of docs/lifecycle.md.
 * 4. Teach the stores to make the new moves: SQL (a new migration widens the state CHECK
 *    of migration 1; queries.ts and, for an active state, the probes of sql/batches.ts),
 *    the Redis Lua scripts, and BatchCounts (backends/backend.ts), which the compiler
 *    asks for (it must hold StateCounts). test/unit/lifecycle.test.ts trips when the
 *    active states change; test/conformance/lifecycle.ts asks for a way to make each new
 *    transition, then checks every store makes it as the table says.
 * The rest follows from here unchanged: the CLI's state validation and help, the batch
 * finish and status, retention, the operator rules of both stores and their tests.
 */

export const COMMAND_STATES = [
  'pending',
  'in_progress',
  'completed',
  'cancelled',
  'troubleshooting',
] as const;

export type CommandState = (typeof COMMAND_STATES)[number];

/** What each state means, in one line (docs, CLI help). */
export const STATE_DESCRIPTIONS: Readonly<Record<CommandState, string>> = {
  pending: 'waiting to be claimed, now or at its `run_at`',
  in_progress: 'claimed by a worker that holds its lease and fencing token',
  completed: 'the handler succeeded, or an operator completed it',
  cancelled: 'an operator or the application cancelled it',
  troubleshooting: 'a permanent error, or attempts exhausted; waits for an operator',
};

/** Who makes a transition. `system`: a store's own step (lease recovery in maintenance). */
export type Mover = 'application' | 'worker' | 'system' | 'operator';

/**
 * What a transition does to `attempts`: `+1` starts one; `counts` keeps the one spent;
 * `given back` returns it (the attempt did not run its course); `reset to 0`; `none`.
 */
export type AttemptEffect = '+1' | 'counts' | 'given back' | 'reset to 0' | 'none';

/** The operator actions (`bus.retry`, `bus.cancel`, `bus.complete`; `dispatchbox tsq ...`). */
export const OPERATOR_ACTIONS = ['retry', 'cancel', 'complete'] as const;
export type OperatorAction = (typeof OPERATOR_ACTIONS)[number];

/** Audit text the caller supplies; `default` is written when it supplies none. */
export interface GivenText {
  /** Whose text it is, for the docs: "the operator's reason". */
  readonly given: string;
  readonly default?: string | undefined;
}

/**
 * How a transition is audited: the actor and reason of its record, as every store writes
 * them: fixed text, or text the caller supplies. A record with no actor (null) names the
 * worker that moved the command instead.
 */
export interface AuditedAs {
  readonly actor: string | GivenText | null;
  readonly reason: string | GivenText;
}

export interface Transition<S extends string = CommandState> {
  /** Unique; how docs and tests refer to the move. */
  readonly name: string;
  /** null: the command is created by this transition. */
  readonly from: S | null;
  readonly to: S;
  readonly by: readonly Mover[];
  readonly attempts: AttemptEffect;
  readonly audit: AuditedAs;
  /** When it happens, in one line. */
  readonly when: string;
  /** The operator action that makes this move, for those an operator makes. */
  readonly action?: OperatorAction | undefined;
}

/** An operator action's record: the operator's name and reason, else `operator` and the action. */
function byOperator(action: OperatorAction): AuditedAs {
  return {
    actor: { given: "the operator's name", default: 'operator' },
    reason: { given: "the operator's reason", default: action },
  };
}

/** Every transition of a command. Each is one conditional write that appends its audit record. */
export const TRANSITIONS: readonly Transition[] = [
  {
    name: 'send',
    from: null,
    to: 'pending',
    by: ['application'],
    attempts: 'none',
    audit: { actor: null, reason: 'sent' },
    when: "`bus.send`, `sendMany`, `createBatch`, `ctx.send` (in the application's `tx`: once it commits)",
  },
  {
    name: 'claim',
    from: 'pending',
    to: 'in_progress',
    by: ['worker'],
    attempts: '+1',
    audit: { actor: null, reason: 'claimed' },
    when: '`run_at` has come; highest priority first, then oldest; takes a lease and a fencing token',
  },
  {
    name: 'succeed',
    from: 'in_progress',
    to: 'completed',
    by: ['worker'],
    attempts: 'counts',
    audit: { actor: null, reason: 'succeeded' },
    when: 'the handler returned; its result is stored',
  },
  {
    name: 'retry after failure',
    from: 'in_progress',
    to: 'pending',
    by: ['worker'],
    attempts: 'counts',
    audit: { actor: null, reason: 'failed; will retry' },
    when: 'an error that is not a `PermanentError`, with attempts left; `run_at` = now + backoff',
  },
  {
    name: 'release',
    from: 'in_progress',
    to: 'pending',
    by: ['worker'],
    attempts: 'given back',
    audit: {
      actor: null,
      reason: {
        given:
          "the worker's: the snooze's message, the rate limit's, `store unavailable` or `worker shutdown`",
      },
    },
    when: '`SnoozeError`, a rate limit, the store failing the run, or a graceful shutdown handing it back',
  },
  {
    name: 'lease expired',
    from: 'in_progress',
    to: 'pending',
    by: ['system'],
    attempts: 'counts',
    audit: { actor: 'system', reason: 'lease expired' },
    when: 'the lease ran out with attempts left: the worker crashed, hung or lost the store',
  },
  {
    name: 'fail',
    from: 'in_progress',
    to: 'troubleshooting',
    by: ['worker'],
    attempts: 'counts',
    audit: { actor: null, reason: 'failed; needs an operator' },
    when: '`PermanentError`, a payload the schema refuses, no handler, or the last attempt failed',
  },
  {
    name: 'lease expired, none left',
    from: 'in_progress',
    to: 'troubleshooting',
    by: ['system'],
    attempts: 'counts',
    audit: { actor: 'system', reason: 'lease expired' },
    when: 'the lease ran out on the last attempt',
  },
  {
    name: 'operator retry',
    from: 'troubleshooting',
    to: 'pending',
    by: ['operator'],
    attempts: 'reset to 0',
    audit: byOperator('retry'),
    when: 'the cause is fixed (`bus.retry`, `dispatchbox tsq retry`)',
    action: 'retry',
  },
  {
    name: 'operator complete',
    from: 'troubleshooting',
    to: 'completed',
    by: ['operator'],
    attempts: 'none',
    audit: byOperator('complete'),
    when: "done by hand; the operator's result is stored (`bus.complete`, `dispatchbox tsq complete`)",
    action: 'complete',
  },
  {
    name: 'cancel',
    from: 'pending',
    to: 'cancelled',
    by: ['operator', 'application'],
    attempts: 'none',
    audit: byOperator('cancel'),
    when: 'no longer wanted (`bus.cancel`, `dispatchbox tsq cancel`)',
    action: 'cancel',
  },
  {
    name: 'cancel from troubleshooting',
    from: 'troubleshooting',
    to: 'cancelled',
    by: ['operator', 'application'],
    attempts: 'none',
    audit: byOperator('cancel'),
    when: 'given up (`bus.cancel`, `dispatchbox tsq cancel`)',
    action: 'cancel',
  },
];

// ---- derived rules -------------------------------------------------------------------

/** What an operator action does: the states it may start from, and where it moves them. */
export interface OperatorRule<S extends string = CommandState> {
  readonly from: readonly S[];
  readonly to: S;
  readonly attempts: AttemptEffect;
}

/** The rules that follow from a table of states and transitions (see deriveRules). */
export interface LifecycleRules<S extends string = CommandState> {
  /** States a command is created in. */
  readonly initial: readonly S[];
  /** States nothing moves out of: the store never moves them again; retention prunes them. */
  readonly terminal: readonly S[];
  /**
   * States a worker or the store moves out of on its own: a command in one is not
   * finished, for its batch nor for a drain. The rest wait for an operator or are terminal.
   */
  readonly active: readonly S[];
  /** The rest: a batch member in one of them is finished. */
  readonly finished: readonly S[];
  readonly operator: Readonly<Record<OperatorAction, OperatorRule<S>>>;
  /** States some operator action applies to. */
  readonly operatorStates: readonly S[];
}

/**
 * Derives the rules from a table: here from the one above, and in the unit tests from
 * one with a state added, to show the rules follow it. Throws on a table whose operator
 * action moves to two states or creates commands.
 */
export function deriveRules<S extends string>(
  states: readonly S[],
  transitions: readonly Transition<S>[],
): LifecycleRules<S> {
  const out = (s: S) => transitions.filter((t) => t.from === s);
  const active = states.filter((s) =>
    out(s).some((t) => t.by.includes('worker') || t.by.includes('system')),
  );
  const operatorRule = (action: OperatorAction): OperatorRule<S> => {
    const moves = transitions.filter((t) => t.action === action);
    const first = moves[0];
    if (
      !first ||
      moves.some((t) => t.to !== first.to || t.attempts !== first.attempts || t.from === null)
    )
      throw new Error(
        `lifecycle table: ${action} must move existing commands to one state, with one effect on attempts`,
      );
    return { from: moves.map((t) => t.from!), to: first.to, attempts: first.attempts };
  };
  const operator = {
    retry: operatorRule('retry'),
    cancel: operatorRule('cancel'),
    complete: operatorRule('complete'),
  };
  return {
    initial: states.filter((s) => transitions.some((t) => t.from === null && t.to === s)),
    terminal: states.filter((s) => out(s).length === 0),
    active,
    finished: states.filter((s) => !active.includes(s)),
    operator,
    operatorStates: states.filter((s) =>
      OPERATOR_ACTIONS.some((a) => operator[a].from.includes(s)),
    ),
  };
}

const RULES = deriveRules(COMMAND_STATES, TRANSITIONS);

export const INITIAL_STATES = RULES.initial;
export const TERMINAL_STATES = RULES.terminal;
/** Not finished for a batch: see LifecycleRules.active. */
export const ACTIVE_STATES = RULES.active;
/** Finished for a batch: every state but the active ones. */
export const FINISHED_STATES = RULES.finished;
/** The operator rules, shared by every store: each action's source states and target. */
export const OPERATOR_RULES = RULES.operator;
export const OPERATOR_STATES = RULES.operatorStates;

export function isCommandState(value: string): value is CommandState {
  return (COMMAND_STATES as readonly string[]).includes(value);
}

/** Whether a command in `state` is finished for its batch (no worker or store will move it). */
export function isFinishedForBatch(state: CommandState): boolean {
  return !ACTIVE_STATES.includes(state);
}

/** True when some transition moves a command from `from` to `to`. */
export function canMove(from: CommandState | null, to: CommandState): boolean {
  return TRANSITIONS.some((t) => t.from === from && t.to === to);
}

// ---- counts by state -----------------------------------------------------------------

/** A state's name in camelCase, as counts carry it: `in_progress` → `inProgress`. */
export type StateCountKey<S extends string = CommandState> = S extends `${infer A}_${infer B}`
  ? `${A}${Capitalize<StateCountKey<B>>}`
  : S;

/** A count per state, keyed as BatchCounts keys them. */
export type StateCounts = { readonly [S in CommandState as StateCountKey<S>]: number };

export function countKeyOf<S extends CommandState>(state: S): StateCountKey<S> {
  return state.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()) as StateCountKey<S>;
}

/** How many of `counts` are in one of `states`. */
export function countIn(counts: StateCounts, states: readonly CommandState[]): number {
  return states.reduce((sum, s) => sum + counts[countKeyOf(s)], 0);
}

/** Whether every member counted is finished for its batch: none is in an active state. */
export function allFinished(counts: StateCounts): boolean {
  return countIn(counts, ACTIVE_STATES) === 0;
}
