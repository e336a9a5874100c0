import { cpus } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

/** The share of all cores' time that was busy (not idle) above which the machine counts as busy. */
const BUSY_SHARE = 0.1;
const WINDOW_MS = 100;

function cpuTimes(): { idle: number; total: number } {
  let idle = 0;
  let total = 0;
  for (const { times } of cpus()) {
    idle += times.idle;
    total += times.user + times.nice + times.sys + times.idle + times.irq;
  }
  return { idle, total };
}

export interface QuietWait {
  waitedMs: number;
  /** Busy share of the last window (0 to 1). */
  busy: number;
}

/**
 * Waits, untimed, until the machine's cores are nearly idle (a 100 ms window under 10%
 * busy), at most `maxMs`. Work a previous step left running in the background (a
 * checkpoint's writes, a store freeing gigabytes, the kernel writing back dirty pages)
 * would otherwise be charged to whichever system is measured next, and on two cores that
 * decides a ratio.
 */
export async function waitForQuiet(maxMs: number): Promise<QuietWait> {
  const started = Date.now();
  let busy = 1;
  do {
    const a = cpuTimes();
    await sleep(WINDOW_MS);
    const b = cpuTimes();
    busy = 1 - (b.idle - a.idle) / Math.max(1, b.total - a.total);
  } while (busy > BUSY_SHARE && Date.now() - started < maxMs);
  return { waitedMs: Date.now() - started, busy };
}
