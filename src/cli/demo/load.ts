import { setTimeout as sleep } from 'node:timers/promises';
import type { CommandBus } from '../../bus/bus.js';
import { demoCommand } from '../../console/demo/handlers.js';

const CHUNK = 500;
const TICK_MS = 100;

/**
 * Sends `count` demo commands at about `rate` a second (0: as fast as the store takes
 * them), in small sendMany chunks. Stops early when `signal` aborts. Resolves to the
 * number sent.
 */
export async function sendDemoLoad(
  bus: CommandBus,
  load: { count: number; rate: number },
  signal: AbortSignal,
  onSent: (sent: number) => void,
): Promise<number> {
  const started = Date.now();
  let sent = 0;
  while (sent < load.count && !signal.aborted) {
    const due =
      load.rate === 0
        ? load.count
        : Math.min(load.count, Math.floor(((Date.now() - started) / 1000) * load.rate) + 1);
    if (due <= sent) {
      await sleep(TICK_MS, undefined, { signal }).catch(() => {});
      continue;
    }
    const size = Math.min(CHUNK, due - sent);
    const items = Array.from({ length: size }, (_, i) => demoCommand(sent + i));
    await bus.sendMany(items);
    sent += size;
    onSent(sent);
  }
  return sent;
}
