/**
 * What a worker does with limits, on PGlite: a refused command goes back to wait with its
 * attempt unspent, per-tenant keys, ctx.rateLimit, global slots freed after the run, and
 * no store call at all for handlers without limits.
 */
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createPGliteBackend } from '../src/backends/pglite/index.js';
import type { Backend } from '../src/backends/backend.js';
import type { SqlBackend } from '../src/backends/sql/sql-backend.js';
import { CommandBus } from '../src/bus/bus.js';
import type { Worker } from '../src/worker/worker.js';
import { waitUntil } from './fixtures/wait-until.js';
import { untilSettled } from './fixtures/worker-settled.js';

const silent = pino({ level: 'silent' });
let backend: SqlBackend;
let workers: Worker[] = [];

beforeAll(async () => {
  backend = await createPGliteBackend({});
  await backend.migrate();
});
afterAll(() => backend.close());
afterEach(async () => {
  await Promise.all(workers.map((w) => w.stop(2000)));
  workers = [];
});

const domain = () => `rl-${randomUUID().slice(0, 8)}`;
const uniqueKey = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

function bus(on: Backend = backend): CommandBus {
  return new CommandBus({ backend: on, logger: silent });
}

async function start(b: CommandBus): Promise<Worker> {
  const worker = b.worker({ pollIntervalMs: 100, leaseMs: 5000 });
  workers.push(worker);
  return worker.start();
}

describe('worker with rate limits', () => {
  it('holds a command whose token is due soon in the worker, and never sends it back', async () => {
    const d = domain();
    const key = uniqueKey('four-a-second');
    const b = bus();
    const ran: number[] = [];
    b.handle(
      d,
      'Call',
      { rateLimit: { key, limit: 4, per: '1s', burst: 1 } },
      (data: { n: number }) => {
        ran.push(data.n);
      },
    );
    const sent = await b.sendMany(
      Array.from({ length: 4 }, (_, n) => ({ domain: d, type: 'Call', data: { n } })),
    );
    const worker = await start(b);
    await untilSettled(worker, () => worker.stats.completed === 4, 10_000, 'all four ran');
    // Each waited in the worker for its token (250 ms apart): none went back to the store.
    expect(worker.stats.limited).toBeGreaterThanOrEqual(3);
    expect(worker.stats.released).toBe(0);
    for (const command of sent) {
      const audit = await b.audit(command.id);
      // claimed once, never sent back
      expect(audit.filter((r) => r.toState === 'in_progress')).toHaveLength(1);
      expect(audit.some((r) => r.reason?.startsWith('rate limited'))).toBe(false);
    }
  });

  it('hands the commands it holds for a token back at shutdown, their attempt unspent', async () => {
    const d = domain();
    const key = uniqueKey('one-a-second');
    const b = bus();
    let ran!: () => void;
    const first = new Promise<void>((resolve) => (ran = resolve));
    b.handle(d, 'Call', { rateLimit: { key, limit: 1, per: '1s' } }, () => ran());
    const sent = await b.sendMany(
      Array.from({ length: 3 }, (_, n) => ({ domain: d, type: 'Call', data: { n } })),
    );
    const worker = await start(b);
    await first;
    await worker.stop(2000);
    const states = await Promise.all(sent.map((c) => b.get(c.id)));
    expect(states.filter((c) => c.state === 'completed')).toHaveLength(1);
    for (const c of states.filter((x) => x.state !== 'completed')) {
      expect(c.state).toBe('pending');
      expect(c.attempts).toBe(0);
    }
  });

  it('sends a command whose bucket is empty back to wait, without spending an attempt', async () => {
    const d = domain();
    const key = uniqueKey('one-per-hour');
    const b = bus();
    const ran: number[] = [];
    b.handle(d, 'Call', { rateLimit: { key, limit: 1, per: '1h' } }, (data: { n: number }) => {
      ran.push(data.n);
    });
    const [first, second] = await b.sendMany([
      { domain: d, type: 'Call', data: { n: 1 } },
      { domain: d, type: 'Call', data: { n: 2 } },
    ]);
    const worker = await start(b);
    await untilSettled(
      worker,
      () => worker.stats.completed === 1 && worker.stats.limited >= 1,
      10_000,
      'one ran, one waited',
    );
    // Both are claimed together; whichever takes the token first runs, the other waits.
    const [winner, loser] = ran[0] === 1 ? [first!, second!] : [second!, first!];
    await waitUntil(
      async () => (await b.get(loser.id)).attempts === 0,
      5000,
      'the attempt given back',
    );
    expect(ran).toHaveLength(1);
    expect((await b.get(winner.id)).state).toBe('completed');
    const waiting = await b.get(loser.id);
    expect(waiting.state).toBe('pending');
    expect(waiting.attempts).toBe(0);
    // It waits for the next token, due in about an hour.
    expect(waiting.runAt.getTime()).toBeGreaterThan(Date.now() + 3_500_000);
    const audit = await b.audit(loser.id);
    expect(audit.some((r) => r.reason === `rate limited: ${key}`)).toBe(true);
  });

  it('keeps one bucket per tenant when the key is a function of the command', async () => {
    const d = domain();
    const prefix = uniqueKey('tenant');
    const b = bus();
    const ran: string[] = [];
    b.handle(
      d,
      'Sync',
      {
        rateLimit: {
          key: (c) => `${prefix}:${(c.data as { tenant: string }).tenant}`,
          limit: 1,
          per: '1h',
        },
      },
      (data: { tenant: string; n: number }) => {
        ran.push(`${data.tenant}${data.n}`);
      },
    );
    await b.sendMany(
      ['a', 'a', 'b', 'a'].map((tenant, n) => ({ domain: d, type: 'Sync', data: { tenant, n } })),
    );
    const worker = await start(b);
    await untilSettled(
      worker,
      () => worker.stats.completed === 2 && worker.stats.limited >= 2,
      10_000,
      'one per tenant',
    );
    // Which of tenant a's commands gets its token first is a race; that only one does is not.
    expect(ran.filter((r) => r.startsWith('a'))).toHaveLength(1);
    expect(ran).toContain('b2');
  });

  it('sends a command whose key function fails to troubleshooting', async () => {
    const d = domain();
    const b = bus();
    b.handle(d, 'Bad', { rateLimit: { key: () => '', limit: 5, per: '1s' } }, () => undefined);
    const command = await b.send(d, 'Bad', {});
    await start(b);
    await waitUntil(
      async () => (await b.get(command.id)).state === 'troubleshooting',
      10_000,
      'troubleshooting',
    );
    expect((await b.get(command.id)).lastError?.code).toBe('RATE_LIMIT_KEY');
  });

  it('frees a global slot once the command has run, and takes none for handlers without limits', async () => {
    const d = domain();
    const b = bus();
    b.handle(d, 'Report', { globalConcurrency: 1 }, () => undefined);
    const calls = { takeToken: 0, acquireSlot: 0 };
    const counting = new Proxy(backend, {
      get(target, prop, receiver) {
        if (prop === 'takeToken' || prop === 'acquireSlot') calls[prop]++;
        return Reflect.get(target, prop, receiver) as unknown;
      },
    });
    const plain = bus(counting);
    plain.handle(d, 'Plain', () => undefined);
    await plain.sendMany(
      Array.from({ length: 20 }, () => ({ domain: d, type: 'Plain', data: {} })),
    );
    const plainWorker = await start(plain);
    await untilSettled(
      plainWorker,
      () => plainWorker.stats.completed === 20,
      10_000,
      'plain commands done',
    );
    expect(calls).toEqual({ takeToken: 0, acquireSlot: 0 });
    await plainWorker.stop();

    await b.sendMany(Array.from({ length: 3 }, () => ({ domain: d, type: 'Report', data: {} })));
    const worker = await start(b);
    await untilSettled(
      worker,
      () => worker.stats.completed === 3,
      10_000,
      'three reports, one at a time',
    );
    await waitUntil(
      async () =>
        (
          await backend.driver.query(
            `SELECT 1 FROM "${backend.schema}".concurrency_slots WHERE key = $1`,
            [`${d}/Report`],
          )
        ).rows.length === 0,
      5000,
      'the slot freed',
    );
  });
});

describe('ctx.rateLimit', () => {
  it('reports with wait: false, waits by default, and refuses an unknown bucket', async () => {
    const d = domain();
    const key = uniqueKey('mid');
    const b = bus();
    // a token every 500 ms: the second take cannot be late enough to find one refilled
    b.registry.rateLimits.define(key, { limit: 2, per: '1s', burst: 1 });
    const seen: unknown[] = [];
    b.handle(d, 'Mid', async (_data, ctx) => {
      // before the first take, so the third take's wait is at least 500 ms from here
      const before = Date.now();
      seen.push(await ctx.rateLimit(key));
      seen.push(await ctx.rateLimit(key, { wait: false }));
      seen.push(await ctx.rateLimit(key));
      seen.push(Date.now() - before >= 450);
      await ctx.rateLimit(uniqueKey('unknown')).catch((e: Error) => seen.push(e.message));
    });
    await b.send(d, 'Mid', {});
    const worker = await start(b);
    await untilSettled(worker, () => worker.stats.completed === 1, 10_000, 'the handler done');
    expect(seen[0]).toEqual({ granted: true, retryAfterMs: 0 });
    expect(seen[1]).toMatchObject({ granted: false });
    expect(seen[2]).toEqual({ granted: true, retryAfterMs: 0 });
    expect(seen[3]).toBe(true);
    expect(seen[4]).toMatch(
      /no rate limit named "unknown-.*"; pass \{ limit, per \} or define it first/,
    );
  });

  it('stops waiting when the handler times out', async () => {
    const d = domain();
    const key = uniqueKey('slow');
    const b = bus();
    let outcome = '';
    let ended!: () => void;
    const waitEnded = new Promise<void>((resolve) => (ended = resolve));
    b.handle(d, 'Slow', { timeout: 300, maxAttempts: 1 }, async (_data, ctx) => {
      await ctx.rateLimit(key, { limit: 1, per: '1h' });
      try {
        await ctx.rateLimit(key, { limit: 1, per: '1h' });
        outcome = 'granted';
      } catch (error) {
        outcome = (error as Error).name;
      }
      ended();
    });
    const command = await b.send(d, 'Slow', {});
    await start(b);
    await waitUntil(
      async () => (await b.get(command.id)).state === 'troubleshooting',
      10_000,
      'timed out',
    );
    await waitEnded;
    expect(outcome).toBe('HandlerTimeoutError');
  });
});
