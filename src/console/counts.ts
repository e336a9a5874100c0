/**
 * The live numbers of the overview and of the SSE `counts` event: commands per domain,
 * type and state from the store's counters, their totals per state, and how long each
 * domain's oldest due command has waited. Two cheap reads, whatever the history.
 */
import type { CommandBus } from '../bus/bus.js';
import { COMMAND_STATES, type CommandState } from '../core/states.js';

export interface LiveCounts {
  counts: { domain: string; type: string; state: CommandState; count: number }[];
  totals: Record<CommandState, number>;
  oldestPending: { domain: string; runAt: string; ageSeconds: number }[];
}

export async function readLiveCounts(bus: CommandBus): Promise<LiveCounts> {
  const [counts, oldest] = await Promise.all([bus.counts(), bus.oldestPending()]);
  const totals = Object.fromEntries(COMMAND_STATES.map((s) => [s, 0])) as Record<
    CommandState,
    number
  >;
  for (const c of counts) totals[c.state] += c.count;
  const now = Date.now();
  return {
    counts: counts.map(({ domain, type, state, count }) => ({ domain, type, state, count })),
    totals,
    oldestPending: oldest.map((o) => ({
      domain: o.domain,
      runAt: o.runAt.toISOString(),
      ageSeconds: Math.max(0, Math.round((now - o.runAt.getTime()) / 100) / 10),
    })),
  };
}
