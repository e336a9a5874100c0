import { setTimeout as sleep } from 'node:timers/promises';
import type { CommandBus } from '../../bus/bus.js';
import type { HandlerContext } from '../../core/context.js';
import { HandlerTimeoutError, PermanentError, TransientError } from '../../core/errors.js';
import {
  DEMO_MAX_ATTEMPTS,
  DEMO_MAX_MS,
  demoTimeoutMs,
  oddsProblem,
  type DemoOdds,
} from '../load-model.js';

export const DEMO_DOMAIN = 'demo';
export const DEMO_TYPES = ['send-email', 'charge-card', 'resize-image'] as const;

export { demoTimeoutMs, type DemoOdds };

/** A demo command's payload: its number and, when the load generator sent it, its odds. */
export interface DemoData {
  n?: number;
  odds?: unknown;
  to?: string;
  amountCents?: number;
  image?: string;
}

/**
 * Registers handlers whose every attempt rolls the dice: a permanent failure, a transient
 * failure, a hang until the timeout, or success after a random time of work. A command
 * that carries valid odds of its own (`data.odds`, from the load generator) rolls with
 * those; any other, the configured ones.
 */
export function registerDemoHandlers(
  bus: CommandBus,
  odds: DemoOdds,
  random: () => number = Math.random,
): void {
  const attempt = async (
    what: string,
    data: DemoData,
    ctx: HandlerContext,
  ): Promise<{ done: string; attempt: number }> => {
    const own = oddsOf(data) ?? odds;
    const roll = random() * 100;
    if (roll < own.permanentPct) {
      throw new PermanentError(`${what}: the demo rolled a permanent failure`, {
        code: 'DEMO_PERMANENT',
      });
    }
    if (roll < own.permanentPct + own.transientPct) {
      throw new TransientError(`${what}: the demo rolled a transient failure`, {
        code: 'DEMO_TRANSIENT',
      });
    }
    if (roll < own.permanentPct + own.transientPct + own.timeoutPct) {
      // Hang until this command's timeout: the handlers' own timeout is the longest any
      // command's odds may need, so each command times out after its own.
      const timeoutMs = demoTimeoutMs(own);
      await sleep(timeoutMs, undefined, { signal: ctx.signal });
      throw new HandlerTimeoutError(timeoutMs);
    }
    await sleep(own.minMs + Math.floor(random() * (own.maxMs - own.minMs + 1)), undefined, {
      signal: ctx.signal,
    });
    return { done: what, attempt: ctx.attempt };
  };
  const options = {
    // past the longest work and the longest simulated timeout a command's odds may ask for
    timeout: Math.max(demoTimeoutMs(odds), demoTimeoutMs({ maxMs: DEMO_MAX_MS })) + 1000,
    maxAttempts: DEMO_MAX_ATTEMPTS,
    backoff: { type: 'exponential', base: '200ms', max: '2s', jitter: true },
  } as const;
  bus.handle<DemoData>(DEMO_DOMAIN, 'send-email', options, (data, ctx) =>
    attempt(`email to ${data.to ?? `user-${data.n}@example.com`}`, data, ctx),
  );
  bus.handle<DemoData>(DEMO_DOMAIN, 'charge-card', options, (data, ctx) =>
    attempt(`charge of ${data.amountCents ?? 100} cents`, data, ctx),
  );
  bus.handle<DemoData>(DEMO_DOMAIN, 'resize-image', options, (data, ctx) =>
    attempt(`resize of ${data.image ?? `photo-${data.n}.jpg`}`, data, ctx),
  );
}

/** The command's own odds when it carries valid ones; null otherwise. */
export function oddsOf(data: unknown): DemoOdds | null {
  if (typeof data !== 'object' || data === null || !('odds' in data)) return null;
  const odds = data.odds;
  if (typeof odds !== 'object' || odds === null) return null;
  return oddsProblem(odds) === null ? (odds as DemoOdds) : null;
}

/** The n-th demo command (the types take turns), carrying `odds` when given. */
export function demoCommand(
  n: number,
  odds?: DemoOdds,
  domain: string = DEMO_DOMAIN,
): { domain: string; type: string; data: DemoData } {
  const type = DEMO_TYPES[n % DEMO_TYPES.length]!;
  const detail =
    type === 'send-email'
      ? { to: `user-${n}@example.com` }
      : type === 'charge-card'
        ? { amountCents: 100 + (n % 9900) }
        : { image: `photo-${n}.jpg` };
  return { domain, type, data: odds ? { n, ...detail, odds } : { n, ...detail } };
}
