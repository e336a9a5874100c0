import type { CommandState } from '../../core/states.js';

export interface ProgressSnapshot {
  elapsedS: number;
  sent: number;
  target: number;
  counts: Record<CommandState, number>;
  /** Commands that reached completed, troubleshooting or cancelled per second, lately. */
  ratePerS: number;
}

const STATES: CommandState[] = [
  'pending',
  'in_progress',
  'completed',
  'troubleshooting',
  'cancelled',
];

/** One line, for logs and pipes: printed once a second when stdout is not a terminal. */
export function progressLine(s: ProgressSnapshot): string {
  const counts = STATES.map((state) => `${state} ${s.counts[state]}`).join('  ');
  return `[${s.elapsedS}s] sent ${s.sent}/${s.target} | ${counts} | ${Math.round(s.ratePerS)} commands/s`;
}

/** A small block redrawn in place on a terminal. */
export function progressBlock(s: ProgressSnapshot): string[] {
  const total = STATES.reduce((sum, state) => sum + s.counts[state], 0) || 1;
  const lines = [
    `elapsed ${s.elapsedS}s   sent ${s.sent} of ${s.target}   ${Math.round(s.ratePerS)} commands/s finished`,
  ];
  for (const state of STATES) {
    const n = s.counts[state];
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
}
