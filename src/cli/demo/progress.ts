import { ACTIVE_STATES, COMMAND_STATES, type CommandState } from '../../core/lifecycle.js';

/** What this run did: the commands it sent and the outcomes of its worker's attempts. */
export interface RunCounts {
  sent: number;
  target: number;
  completed: number;
  /** Attempts that failed transiently and were scheduled again. */
  retried: number;
  troubleshooting: number;
}

export interface ProgressSnapshot {
  elapsedS: number;
  run: RunCounts;
  /** Every demo command in the store by state, this run's and any earlier run's. */
  store: Record<CommandState, number>;
  /** Commands that reached completed, troubleshooting or cancelled per second, lately. */
  ratePerS: number;
}

/**
 * True once everything this run sent has been sent and the store holds no demo command
 * that is waiting or running (retries scheduled for later count as waiting).
 */
export function drained(s: ProgressSnapshot): boolean {
  return s.run.sent >= s.run.target && ACTIVE_STATES.every((state) => s.store[state] === 0);
}

function runText(r: RunCounts): string {
  return `sent ${r.sent}/${r.target}, completed ${r.completed}, retried ${r.retried}, troubleshooting ${r.troubleshooting}`;
}

/** One line, for logs and pipes: printed once a second when stdout is not a terminal. */
export function progressLine(s: ProgressSnapshot): string {
  const store = COMMAND_STATES.map((state) => `${state} ${s.store[state]}`).join('  ');
  return `[${s.elapsedS}s] this run: ${runText(s.run)} | store totals (all runs): ${store} | ${Math.round(s.ratePerS)} commands/s`;
}

/** A small block redrawn in place on a terminal. */
export function progressBlock(s: ProgressSnapshot): string[] {
  const total = COMMAND_STATES.reduce((sum, state) => sum + s.store[state], 0) || 1;
  const lines = [
    `elapsed ${s.elapsedS}s   ${Math.round(s.ratePerS)} commands/s finished`,
    `this run: ${runText(s.run)}`,
    'store totals (all runs):',
  ];
  for (const state of COMMAND_STATES) {
    const n = s.store[state];
    const bar = '█'.repeat(Math.round((n / total) * 40));
    lines.push(`  ${state.padEnd(16)} ${String(n).padStart(8)}  ${bar}`);
  }
  return lines;
}

/** Writes snapshots: redrawing the block on a terminal, appending lines otherwise. */
export class ProgressView {
  private drawn = 0;
  constructor(
    private readonly write: (text: string) => void,
    private readonly tty: boolean,
  ) {}

  show(s: ProgressSnapshot): void {
    if (!this.tty) {
      this.write(progressLine(s));
      return;
    }
    const lines = progressBlock(s);
    // Cursor up to the block's first line, then clear to the end of the screen.
    const rewind = this.drawn > 0 ? `\x1b[${this.drawn}F\x1b[J` : '';
    this.write(rewind + lines.join('\n'));
    this.drawn = lines.length;
  }

  /** A line of its own: on a terminal it takes the block's place, and the block is drawn below it. */
  note(text: string): void {
    const rewind = this.drawn > 0 ? `\x1b[${this.drawn}F\x1b[J` : '';
    this.write(rewind + text);
    this.drawn = 0;
  }
}
