import { describe, expect, it } from 'vitest';
import type { ClaimedCommand } from '../../src/core/command.js';
import { PermanentError, SnoozeError, TransientError } from '../../src/core/errors.js';
import type { RetryPolicy } from '../../src/core/retry.js';
import {
  settlementFor,
  STORE_UNAVAILABLE_DELAY_MS,
  type RunOutcome,
} from '../../src/worker/outcomes.js';

const policy: RetryPolicy = {
  maxAttempts: 3,
  backoff: { type: 'exponential', base: '1s', max: '1m', jitter: true },
};
// half of the capped delay, so a jitter that was not applied shows
const random = () => 0.5;

function claimed(attempts: number, maxAttempts = 3): ClaimedCommand {
  const at = new Date(0);
  return {
    id: '0190a000-0000-7000-8000-000000000001',
    domain: 'billing',
    type: 'Charge',
    data: {},
    headers: {},
    state: 'in_progress',
    priority: 0,
    attempts,
    maxAttempts,
    runAt: at,
    createdAt: at,
    updatedAt: at,
    correlationId: null,
    causationId: null,
    batchId: null,
    idempotencyKey: null,
    lastError: null,
    result: null,
    workerId: 'w',
    leaseExpiresAt: null,
    leaseToken: 'token-1',
  };
}

const lease = { id: claimed(1).id, leaseToken: 'token-1', domain: 'billing' };

describe('settlementFor: what each outcome of an attempt writes', () => {
  it('completes a run that returned, with its result', () => {
    expect(settlementFor({ kind: 'ran', resultJson: '{"ok":true}' }, claimed(1), policy)).toEqual({
      kind: 'complete',
      ...lease,
      attempt: 1,
      resultJson: '{"ok":true}',
    });
    expect(settlementFor({ kind: 'ran', resultJson: null }, claimed(2), policy)).toMatchObject({
      kind: 'complete',
      attempt: 2,
      resultJson: null,
    });
  });

  it('retries a transient failure with attempts left, after the backoff of that attempt', () => {
    const error = new TransientError('gateway timeout', { code: 'GATEWAY_TIMEOUT' });
    const outcome: RunOutcome = { kind: 'handlerFailed', error };
    expect(settlementFor(outcome, claimed(1), policy, random)).toEqual({
      kind: 'retry',
      ...lease,
      attempt: 1,
      delayMs: 500,
      error: { code: 'GATEWAY_TIMEOUT', message: 'gateway timeout' },
    });
    // the second attempt waits twice as long: 2 s, jittered to half
    expect(settlementFor(outcome, claimed(2), policy, random)).toMatchObject({
      kind: 'retry',
      delayMs: 1000,
    });
    // an error of any other kind is transient too
    expect(
      settlementFor(
        { kind: 'handlerFailed', error: new Error('boom') },
        claimed(1),
        policy,
        random,
      ),
    ).toMatchObject({ kind: 'retry', error: { code: 'ERROR', message: 'boom' } });
  });

  it('sends a failure to troubleshooting once the attempts are spent', () => {
    const outcome: RunOutcome = { kind: 'handlerFailed', error: new TransientError('again') };
    expect(settlementFor(outcome, claimed(3), policy, random)).toEqual({
      kind: 'troubleshoot',
      ...lease,
      attempt: 3,
      error: { code: 'TRANSIENT', message: 'again' },
    });
  });

  it('sends a permanent failure to troubleshooting at once, whatever attempts are left', () => {
    const error = new PermanentError('card declined', { code: 'DECLINED' });
    expect(settlementFor({ kind: 'handlerFailed', error }, claimed(1, 10), policy)).toEqual({
      kind: 'troubleshoot',
      ...lease,
      attempt: 1,
      error: { code: 'DECLINED', message: 'card declined' },
    });
  });

  it('releases a snoozed command for its delay, without spending the attempt', () => {
    const error = new SnoozeError(30_000, 'supplier closed');
    expect(settlementFor({ kind: 'handlerFailed', error }, claimed(3), policy)).toEqual({
      kind: 'release',
      ...lease,
      attempt: 3,
      delayMs: 30_000,
      reason: 'supplier closed',
    });
  });

  it('releases a command the store failed around for a second: not the command’s fault', () => {
    const outcome: RunOutcome = { kind: 'storeFailed', error: new Error('connection reset') };
    // even on its last attempt: nothing is spent
    expect(settlementFor(outcome, claimed(3), policy)).toEqual({
      kind: 'release',
      ...lease,
      attempt: 3,
      delayMs: STORE_UNAVAILABLE_DELAY_MS,
      reason: 'store unavailable',
    });
  });

  it('releases a command a limit refused until the limit lets it through', () => {
    const outcome: RunOutcome = {
      kind: 'limited',
      delayMs: 250,
      reason: 'rate limited: billing',
      tokenWait: true,
    };
    expect(settlementFor(outcome, claimed(1), policy)).toEqual({
      kind: 'release',
      ...lease,
      attempt: 1,
      delayMs: 250,
      reason: 'rate limited: billing',
    });
  });

  it('writes nothing for an outcome written already, refused as stale, or no longer this worker’s', () => {
    for (const kind of ['committed', 'stale', 'abandoned'] as const) {
      expect(settlementFor({ kind }, claimed(1), policy)).toBeNull();
    }
  });
});
