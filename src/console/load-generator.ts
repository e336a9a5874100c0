/**
 * The load generator: `count` demo commands carrying the odds they roll with, sent as one
 * batch. The batch is created atomically, so a load is sent whole or (cancelled, failed)
 * not at all; its commands are made a chunk at a time, the job reporting progress after
 * each, and the event loop gets a turn every few hundred commands, so the server keeps
 * answering while a million go (measured: requests wait under 100 ms).
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { BatchInfo } from '../backends/backend.js';
import type { CommandBus } from '../bus/bus.js';
import { checkName } from '../core/registry.js';
import { ValidationError } from '../core/errors.js';
import { DEMO_DOMAIN, demoCommand } from './demo/handlers.js';
import { type DemoOdds, loadProblem } from './load-model.js';
import type { JobControl } from './types.js';

/** Demo commands made between two progress reports (the bus's own chunk size). */
export const LOAD_CHUNK = 5000;
/** Demo commands made between two turns of the event loop: a few ms of work at most. */
const YIELD_EVERY = 500;

export interface LoadParams extends DemoOdds {
  count: number;
  /** Where the demo commands go; the demo handlers are registered on 'demo'. */
  domain?: string | undefined;
}

export interface CheckedLoad {
  count: number;
  odds: DemoOdds;
  domain: string;
}

/** The load's parameters, checked: a ValidationError names the first field at fault. */
export function checkLoad(params: LoadParams): CheckedLoad {
  if (typeof params !== 'object' || params === null) {
    throw new ValidationError(
      'a load is an object { count, permanentPct, transientPct, timeoutPct, minMs, maxMs, domain? }',
      null,
    );
  }
  const problem = loadProblem(params);
  if (problem) throw new ValidationError(problem.message, problem.field);
  const { permanentPct, transientPct, timeoutPct, minMs, maxMs } = params;
  return {
    count: params.count,
    odds: { permanentPct, transientPct, timeoutPct, minMs, maxMs },
    domain: params.domain === undefined ? DEMO_DOMAIN : checkName(params.domain, 'domain'),
  };
}

/**
 * `checkLoad`, and the first demo command checked as this bus checks a send (a strict bus
 * without the demo handlers refuses it), so a load that would fail is refused up front.
 */
export function checkLoadOn(bus: CommandBus, params: LoadParams): CheckedLoad {
  const load = checkLoad(params);
  bus.prepare(demoCommand(0, load.odds, load.domain));
  return load;
}

/**
 * Sends the load (checked first: bad parameters send nothing) as one batch; resolves to
 * the batch. When the job's signal aborts, the batch is rolled back.
 */
export async function generateLoad(
  bus: CommandBus,
  params: LoadParams,
  job: JobControl,
): Promise<BatchInfo> {
  const load = checkLoadOn(bus, params);
  return bus.createBatch({
    name: `load: ${load.count} demo commands (${describeOdds(load.odds)})`,
    commands: demoCommands(load, job),
  });
}

async function* demoCommands(load: CheckedLoad, job: JobControl) {
  for (let from = 0; from < load.count; from += LOAD_CHUNK) {
    // thrown into the batch's creation, which rolls back what it had stored
    job.signal.throwIfAborted();
    const to = Math.min(load.count, from + LOAD_CHUNK);
    for (let n = from; n < to; n++) {
      yield demoCommand(n, load.odds, load.domain);
      // the bus checks each command as it takes it: give the requests a turn now and then
      if ((n + 1) % YIELD_EVERY === 0) await nextTurn();
    }
    // the bus has taken the chunk's commands in (the store has its earlier chunks)
    job.progress(to);
  }
}

function describeOdds(odds: DemoOdds): string {
  return `${odds.permanentPct}% permanent, ${odds.transientPct}% transient, ${odds.timeoutPct}% timeout, ${odds.minMs}-${odds.maxMs} ms`;
}
