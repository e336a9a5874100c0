import { setTimeout as sleep } from 'node:timers/promises';
import type { CommandBus } from '../../bus/bus.js';
import type { DemoConfig } from '../../config/index.js';
import type { HandlerContext } from '../../core/context.js';
import { PermanentError, TransientError } from '../../core/errors.js';

export const DEMO_DOMAIN = 'demo';
export const DEMO_TYPES = ['send-email', 'charge-card', 'resize-image'] as const;

/** Long enough that no ordinary demo attempt hits it; the "timeout" outcome waits it out. */
export function demoTimeoutMs(odds: Pick<DemoConfig, 'maxMs'>): number {
  return Math.max(1000, odds.maxMs * 2);
}

/**
 * Registers handlers whose every attempt rolls the dice: a permanent failure, a transient
 * failure, a hang until the handler timeout, or success after a random time of work.
 */
export function registerDemoHandlers(
  bus: CommandBus,
  odds: DemoConfig,
  random: () => number = Math.random,
): void {
  const attempt = async (
    what: string,
    ctx: HandlerContext,
  ): Promise<{ done: string; attempt: number }> => {
    const roll = random() * 100;
    if (roll < odds.permanentPct) {
      throw new PermanentError(`${what}: the demo rolled a permanent failure`, {
        code: 'DEMO_PERMANENT',
      });
    }
    if (roll < odds.permanentPct + odds.transientPct) {
      throw new TransientError(`${what}: the demo rolled a transient failure`, {
        code: 'DEMO_TRANSIENT',
      });
    }
    if (roll < odds.permanentPct + odds.transientPct + odds.timeoutPct) {
      // Hang until the timeout middleware aborts the attempt.
      await sleep(demoTimeoutMs(odds) * 10, undefined, { signal: ctx.signal });
    }
    await sleep(odds.minMs + Math.floor(random() * (odds.maxMs - odds.minMs + 1)), undefined, {
      signal: ctx.signal,
    });
    return { done: what, attempt: ctx.attempt };
  };
  const options = {
    timeout: demoTimeoutMs(odds),
    maxAttempts: 4,
    backoff: { type: 'exponential', base: '200ms', max: '2s', jitter: true },
  } as const;
  bus.handle<{ to: string }>(DEMO_DOMAIN, 'send-email', options, (data, ctx) =>
    attempt(`email to ${data.to}`, ctx),
  );
  bus.handle<{ amountCents: number }>(DEMO_DOMAIN, 'charge-card', options, (data, ctx) =>
    attempt(`charge of ${data.amountCents} cents`, ctx),
  );
  bus.handle<{ image: string }>(DEMO_DOMAIN, 'resize-image', options, (data, ctx) =>
    attempt(`resize of ${data.image}`, ctx),
  );
}

/** The n-th demo command: the types take turns. */
export function demoCommand(n: number): {
  domain: string;
  type: string;
  data: Record<string, unknown>;
} {
  const type = DEMO_TYPES[n % DEMO_TYPES.length]!;
  const data =
    type === 'send-email'
      ? { to: `user-${n}@example.com` }
      : type === 'charge-card'
        ? { amountCents: 100 + (n % 9900) }
        : { image: `photo-${n}.jpg` };
  return { domain: DEMO_DOMAIN, type, data };
}
