/**
 * The typed events of the worker and the bus, on every store: each fires with the right
 * fields for a run that completes, fails then completes, goes to troubleshooting, is
 * snoozed, rate-limited, refused as stale or loses its lease; a listener that throws is
 * logged and the worker goes on; the worker's stats equal the counts of its events.
 */
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../src/backends/backend.js';
import { createPGliteBackend } from '../src/backends/pglite/index.js';
import { CommandBus } from '../src/bus/bus.js';
import type { ClaimedCommand } from '../src/core/command.js';
import {
  ConfigurationError,
  PermanentError,
  SnoozeError,
  TransientError,
} from '../src/core/errors.js';
import {
  WORKER_EVENT_NAMES,
  type WorkerEventMap,
  type WorkerEventName,
} from '../src/core/events.js';
import type { Worker, WorkerOptions } from '../src/worker/worker.js';
import { everyStore } from './helpers/stores.js';

type Recorded = { [K in WorkerEventName]: { name: K; event: WorkerEventMap[K] } }[WorkerEventName];

/** Every event of a worker, in order, with a way to await one. */
class Recorder {
  readonly events: Recorded[] = [];
  private waiters: { match: (r: Recorded) => boolean; resolve: () => void }[] = [];

  constructor(worker: Worker) {
    for (const name of WORKER_EVENT_NAMES) {
      worker.events.on(name, (event) => this.push({ name, event } as Recorded));
    }
  }

  private push(recorded: Recorded): void {
    this.events.push(recorded);
    this.waiters = this.waiters.filter((w) => {
      if (!w.match(recorded)) return true;
      w.resolve();
      return false;
    });
  }

  of<K extends WorkerEventName>(name: K, commandId?: string): WorkerEventMap[K][] {
    return this.events
      .filter((r) => r.name === name)
      .map((r) => r.event as WorkerEventMap[K])
      .filter((e) => commandId === undefined || ('commandId' in e && e.commandId === commandId));
  }

  /** Resolves once an event named `name` (of `commandId`) has fired, earlier ones included. */
  until(name: WorkerEventName, commandId: string, timeoutMs = 20_000): Promise<void> {
    const match = (r: Recorded) =>
      r.name === name && 'commandId' in r.event && r.event.commandId === commandId;
    if (this.events.some(match)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no '${name}' event for ${commandId} in ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.waiters.push({
        match,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  /** The order of the events of one command, by name. */
  names(commandId: string): string[] {
    return this.events
      .filter((r) => 'commandId' in r.event && r.event.commandId === commandId)
      .map((r) => r.name);
  }
}

/** The worker's stats must be the counts of its events, whatever happened. */
function expectStatsMatch(worker: Worker, recorder: Recorder): void {
  expect(worker.stats).toEqual({
    started: recorder.of('started').length,
    completed: recorder.of('completed').length,
    retried: recorder.of('retried').length,
    troubleshooting: recorder.of('troubleshooting').length,
    released: recorder.of('released').length,
    stale: recorder.of('stale').length,
    limited: recorder.of('rateLimited').length,
  });
}

const stores = await everyStore('events');

for (const store of stores) {
  describe.runIf(store.available)(`events: ${store.name}`, () => {
    let backend: Backend;
    const workers: Worker[] = [];
    const silent = pino({ level: 'silent' });

    beforeAll(async () => {
      backend = await store.open();
    });
    afterEach(async () => {
      await Promise.all(workers.splice(0).map((w) => w.stop(2000)));
    });
    afterAll(async () => {
      await store.destroy(backend);
      await backend.close();
    });

    const domain = () => `ev-${randomUUID().slice(0, 12)}`;

    /** A worker of `bus`, not started yet, with every event recorded. */
    function recorded(bus: CommandBus, options: WorkerOptions = {}) {
      const worker = bus.worker({ pollIntervalMs: 100, ...options });
      workers.push(worker);
      return { worker, recorder: new Recorder(worker) };
    }

    async function start(bus: CommandBus, options: WorkerOptions = {}) {
      const started = recorded(bus, options);
      await started.worker.start();
      return started;
    }

    it('tells a run that completes: started, then completed with its duration', async () => {
      const bus = new CommandBus({ backend, logger: silent });
      const d = domain();
      bus.handle(d, 'Add', async (data: { a: number; b: number }) => {
        await new Promise((r) => setTimeout(r, 20));
        return data.a + data.b;
      });
      const sent = await bus.send(d, 'Add', { a: 1, b: 2 });
      const { worker, recorder } = await start(bus);
      await recorder.until('completed', sent.id);
      const about = {
        workerId: worker.workerId,
        commandId: sent.id,
        domain: d,
        type: 'Add',
        attempt: 1,
      };
      expect(recorder.of('started', sent.id)).toEqual([about]);
      const [completed] = recorder.of('completed', sent.id);
      expect(completed).toEqual({ ...about, durationMs: expect.any(Number) as unknown });
      // the handler waited 20 ms; timers may fire a millisecond early
      expect(completed!.durationMs).toBeGreaterThanOrEqual(19);
      expect(recorder.names(sent.id)).toEqual(['started', 'completed']);
      await worker.stop();
      expectStatsMatch(worker, recorder);
    });

    it('tells a transient failure (failed, retried) and the attempt that then completes', async () => {
      const bus = new CommandBus({ backend, logger: silent });
      const d = domain();
      bus.handle(d, 'Flaky', { backoff: { type: 'fixed', delay: 0 } }, (_data, ctx) => {
        if (ctx.attempt === 1) throw new TransientError('gateway timeout', { code: 'TIMEOUT' });
        return 'ok';
      });
      const sent = await bus.send(d, 'Flaky', {});
      const { worker, recorder } = await start(bus);
      await recorder.until('completed', sent.id);
      // the retry's write and the next claim race: the store may hand the command out again
      // before the worker hears its write returned
      const names = recorder.names(sent.id);
      expect(names.slice(0, 2)).toEqual(['started', 'failed']);
      expect(names.slice(2).sort()).toEqual(['completed', 'retried', 'started']);
      const error = { code: 'TIMEOUT', message: 'gateway timeout' };
      expect(recorder.of('failed', sent.id)).toEqual([
        expect.objectContaining({
          attempt: 1,
          type: 'Flaky',
          error,
          retryInMs: 0,
          durationMs: expect.any(Number) as unknown,
        }),
      ]);
      expect(recorder.of('retried', sent.id)).toEqual([
        expect.objectContaining({
          attempt: 1,
          error,
          delayMs: 0,
          durationMs: expect.any(Number) as unknown,
        }) as unknown,
      ]);
      expect(recorder.of('started', sent.id).map((e) => e.attempt)).toEqual([1, 2]);
      expect(recorder.of('completed', sent.id)).toEqual([
        expect.objectContaining({ attempt: 2, domain: d }),
      ]);
      await worker.stop();
      expectStatsMatch(worker, recorder);
    });

    it('tells a command sent to troubleshooting, with its error', async () => {
      const bus = new CommandBus({ backend, logger: silent });
      const d = domain();
      bus.handle(d, 'Pay', () => {
        throw new PermanentError('card declined', { code: 'DECLINED' });
      });
      const sent = await bus.send(d, 'Pay', {});
      const { worker, recorder } = await start(bus);
      await recorder.until('troubleshooting', sent.id);
      expect(recorder.names(sent.id)).toEqual(['started', 'troubleshooting']);
      expect(recorder.of('troubleshooting', sent.id)).toEqual([
        {
          workerId: worker.workerId,
          commandId: sent.id,
          domain: d,
          type: 'Pay',
          attempt: 1,
          durationMs: expect.any(Number) as unknown,
          error: { code: 'DECLINED', message: 'card declined' },
        },
      ]);
      await worker.stop();
      expectStatsMatch(worker, recorder);
    });

    it('tells a snooze as released, with its delay and reason', async () => {
      const bus = new CommandBus({ backend, logger: silent });
      const d = domain();
      let runs = 0;
      bus.handle(d, 'Later', () => {
        if (++runs === 1) throw new SnoozeError(50, 'supplier closed');
        return 'done';
      });
      const sent = await bus.send(d, 'Later', {});
      const { worker, recorder } = await start(bus);
      await recorder.until('completed', sent.id);
      const names = recorder.names(sent.id);
      expect(names[0]).toBe('started');
      expect(names.slice(1).sort()).toEqual(['completed', 'released', 'started']);
      expect(recorder.of('released', sent.id)).toEqual([
        expect.objectContaining({
          attempt: 1,
          delayMs: 50,
          reason: 'supplier closed',
          durationMs: expect.any(Number) as unknown,
        }),
      ]);
      // a snooze gives the attempt back
      expect(recorder.of('completed', sent.id)[0]!.attempt).toBe(1);
      await worker.stop();
      expectStatsMatch(worker, recorder);
    });

    it('tells a command a rate limit refused, and its run once a token came', async () => {
      const bus = new CommandBus({ backend, logger: silent });
      const d = domain();
      const key = `ev-limit-${randomUUID().slice(0, 8)}`;
      bus.handle(d, 'Call', { rateLimit: { key, limit: 1, per: '500ms' } }, () => 'called');
      const first = await bus.send(d, 'Call', {});
      const second = await bus.send(d, 'Call', {});
      const { worker, recorder } = await start(bus);
      await recorder.until('completed', first.id);
      await recorder.until('completed', second.id);
      const limited = recorder.of('rateLimited');
      expect(limited.length).toBeGreaterThan(0);
      for (const event of limited) {
        expect(event).toEqual({
          workerId: worker.workerId,
          commandId: expect.any(String) as unknown,
          domain: d,
          type: 'Call',
          attempt: 1,
          delayMs: expect.any(Number) as unknown,
          reason: `rate limited: ${key}`,
          held: expect.any(Boolean) as unknown,
        });
        expect(event.delayMs).toBeGreaterThan(0);
      }
      // a refused attempt does not start: one start per run
      expect(recorder.of('started')).toHaveLength(2);
      await worker.stop();
      expectStatsMatch(worker, recorder);
    });

    it('tells an outcome refused as stale once another attempt owns the command', async () => {
      const bus = new CommandBus({ backend, logger: silent });
      const d = domain();
      let runs = 0;
      const { worker, recorder } = recorded(bus);
      bus.handle(d, 'Late', async (_data, ctx) => {
        // The second run's outcome waits for the refusal of the first: written in one
        // flush, the two would be told apart by the store's answer, which names ids only.
        if (++runs > 1) {
          await recorder.until('stale', ctx.commandId);
          return 'second';
        }
        // the lease is taken over as an expiry and a reclaim would: the token changes
        await releaseAs('another-worker', ctx.command as ClaimedCommand);
        return 'first';
      });
      const sent = await bus.send(d, 'Late', {});
      await worker.start();
      await recorder.until('stale', sent.id);
      await recorder.until('completed', sent.id);
      expect(recorder.of('stale', sent.id)).toEqual([
        {
          workerId: worker.workerId,
          commandId: sent.id,
          domain: d,
          type: 'Late',
          attempt: 1,
          durationMs: expect.any(Number) as unknown,
          outcome: 'complete',
        },
      ]);
      expect((await bus.get(sent.id)).result).toBe('second');
      await worker.stop();
      expectStatsMatch(worker, recorder);
    });

    it('tells a lease lost under a running handler, and writes nothing for that run', async () => {
      const bus = new CommandBus({ backend, logger: silent });
      const d = domain();
      let runs = 0;
      const { worker, recorder } = recorded(bus);
      bus.handle(d, 'Beat', async (_data, ctx) => {
        // the first run may still be on its way: the second starts once its lease is lost
        if (++runs > 1) {
          await recorder.until('leaseLost', ctx.commandId);
          return 'second';
        }
        await releaseAs('another-worker', ctx.command as ClaimedCommand);
        await ctx.heartbeat().catch(() => {});
        return 'first';
      });
      const sent = await bus.send(d, 'Beat', {});
      await worker.start();
      await recorder.until('leaseLost', sent.id);
      await recorder.until('completed', sent.id);
      expect(recorder.of('leaseLost', sent.id)).toEqual([
        {
          workerId: worker.workerId,
          commandId: sent.id,
          domain: d,
          type: 'Beat',
          attempt: 1,
          durationMs: expect.any(Number) as unknown,
          running: true,
        },
      ]);
      // the abandoned run wrote nothing: no stale outcome, one completion (the second run's)
      expect(recorder.names(sent.id).sort()).toEqual([
        'completed',
        'leaseLost',
        'started',
        'started',
      ]);
      expect((await bus.get(sent.id)).result).toBe('second');
      await worker.stop();
      expectStatsMatch(worker, recorder);
    });

    it('logs a listener that throws, and runs and counts on as if it had not', async () => {
      const lines: string[] = [];
      const logger = pino({ level: 'error' }, { write: (line: string) => lines.push(line) });
      const bus = new CommandBus({ backend, logger });
      const d = domain();
      bus.handle(d, 'Ok', () => 'ok');
      const worker = bus.worker({ pollIntervalMs: 100 });
      workers.push(worker);
      worker.events.on('started', () => {
        throw new Error('listener broke');
      });
      worker.events.on('completed', () => Promise.reject(new Error('async listener broke')));
      const recorder = new Recorder(worker);
      await worker.start();
      const sent = [await bus.send(d, 'Ok', {}), await bus.send(d, 'Ok', {})];
      for (const s of sent) await recorder.until('completed', s.id);
      for (const s of sent) expect((await bus.get(s.id)).state).toBe('completed');
      // the listeners after the throwing one were called all the same
      expect(recorder.of('started')).toHaveLength(2);
      await worker.stop();
      expectStatsMatch(worker, recorder);
      const logged = lines.map((l) => JSON.parse(l) as { msg: string; event?: string });
      expect(
        logged.filter((l) => l.msg === "a listener of worker event 'started' threw"),
      ).toHaveLength(2);
      expect(
        logged.filter((l) => l.msg === "a listener of worker event 'completed' threw"),
      ).toHaveLength(2);
    });

    it("tells what the bus stored: 'sent' with the count, repeats left out", async () => {
      const bus = new CommandBus({ backend, logger: silent });
      const d = domain();
      const sent: { count: number; ids: string[]; inTransaction: boolean }[] = [];
      const durations: number[] = [];
      bus.events.on('sent', (e) => {
        sent.push({
          count: e.count,
          ids: e.commands.map((c) => c.id),
          inTransaction: e.inTransaction,
        });
        durations.push(e.durationMs);
      });
      const before = performance.now();
      const one = await bus.send(d, 'A', {}, { idempotencyKey: 'once' });
      await bus.send(d, 'A', {}, { idempotencyKey: 'once' });
      const many = await bus.sendMany([
        { domain: d, type: 'B', data: 1 },
        { domain: d, type: 'B', data: 2 },
      ]);
      const batch = await bus.createBatch({
        commands: [1, 2, 3].map((n) => ({ domain: d, type: 'C', data: n })),
      });
      expect(sent).toEqual([
        { count: 1, ids: [one.id], inTransaction: false },
        { count: 2, ids: many.map((c) => c.id), inTransaction: false },
        { count: 3, ids: expect.any(Array) as unknown, inTransaction: false },
      ]);
      // each from its call to the store's reply: more than nothing, less than all the sends
      const all = performance.now() - before;
      for (const ms of durations) expect(ms > 0 && ms <= all, `${ms} of ${all}`).toBe(true);
      const batchIds = (await bus.list({ domain: d, type: 'C' })).map((c) => c.id);
      expect(sent[2]!.ids.sort()).toEqual(batchIds.sort());
      expect(batch.counts.pending).toBe(3);
    });

    it('tells each claim that brought commands, with its domain and size', async () => {
      const bus = new CommandBus({ backend, logger: silent });
      const d = domain();
      bus.handle(d, 'Small', () => 'ok');
      const sent = await bus.sendMany(
        Array.from({ length: 25 }, (_, i) => ({ domain: d, type: 'Small', data: i })),
      );
      const { worker, recorder } = await start(bus, { concurrency: 4, claimBatchSize: 10 });
      for (const s of sent) await recorder.until('completed', s.id);
      const claims = recorder.of('claimed');
      for (const c of claims) {
        expect(c).toEqual({
          workerId: worker.workerId,
          domain: d,
          count: expect.any(Number) as unknown,
        });
        expect(c.count).toBeGreaterThanOrEqual(1);
        expect(c.count).toBeLessThanOrEqual(10);
      }
      // every command came by exactly one claim (none was handed back or claimed again)
      expect(claims.reduce((n, c) => n + c.count, 0)).toBe(25);
      expect(claims.length).toBeGreaterThanOrEqual(3);
    });

    it("tells the commands its lease recovery gave back: 'leasesRecovered'", async () => {
      const bus = new CommandBus({ backend, logger: silent });
      const d = domain();
      bus.handle(d, 'Lost', () => 'ok');
      const sent = await bus.send(d, 'Lost', {});
      // a worker that died holding the command: a lease that runs out and is never renewed
      const [held] = await backend.claim({
        workerId: 'died',
        domain: d,
        types: null,
        limit: 1,
        leaseMs: 100,
        leaseToken: randomUUID(),
      });
      expect(held?.id).toBe(sent.id);
      const { worker, recorder } = recorded(bus, { leaseMs: 600 });
      const recovered = new Promise<WorkerEventMap['leasesRecovered']>((resolve) =>
        worker.events.once('leasesRecovered', resolve),
      );
      await worker.start();
      // other tests' expired leases in the same store may come back in the same run
      expect(await recovered).toEqual({
        workerId: worker.workerId,
        count: expect.any(Number) as unknown,
      });
      await recorder.until('completed', sent.id);
      expect(recorder.of('leasesRecovered').every((e) => e.count >= 1)).toBe(true);
    });

    it('refuses a listener of an event that does not exist, naming the events', () => {
      const bus = new CommandBus({ backend, logger: silent });
      const worker = bus.worker();
      expect(() => worker.events.on('complete' as WorkerEventName, () => {})).toThrow(
        ConfigurationError,
      );
      expect(() => worker.events.on('complete' as WorkerEventName, () => {})).toThrow(
        /no worker event named "complete"; the events are started, completed/,
      );
      expect(() => bus.events.on('sent', null as never)).toThrow(/must be a function/);
    });

    /** Moves the command on as another worker would, so this run's token is stale. */
    async function releaseAs(workerId: string, command: ClaimedCommand): Promise<void> {
      await backend.settle({
        workerId,
        settlements: [
          {
            kind: 'release',
            id: command.id,
            leaseToken: command.leaseToken,
            attempt: command.attempts,
            domain: command.domain,
            delayMs: 0,
            reason: 'taken over',
          },
        ],
      });
    }
  });
}

describe('events: the store going away and coming back (embedded store)', () => {
  let real: Backend;
  let worker: Worker | undefined;
  beforeAll(async () => {
    real = await createPGliteBackend();
    await real.migrate();
  });
  afterEach(async () => {
    await worker?.stop(2000);
  });
  afterAll(async () => {
    await real.close();
  });

  /** The real store, with the next `failing[method]` calls of a method failing. */
  function failingCalls(failing: Record<string, number>): Backend {
    return new Proxy(real, {
      get(target, key, receiver) {
        const value: unknown = Reflect.get(target, key, receiver);
        if (typeof key !== 'string' || typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          if ((failing[key] ?? 0) > 0) {
            failing[key]!--;
            return Promise.reject(new Error(`${key}: connection refused`));
          }
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  }

  it('tells storeDown at the first failed claim or write, and storeUp once one succeeds', async () => {
    const failing: Record<string, number> = { claim: 0, settle: 0 };
    const bus = new CommandBus({
      backend: failingCalls(failing),
      logger: pino({ level: 'silent' }),
    });
    const d = `ev-${randomUUID().slice(0, 12)}`;
    bus.handle(d, 'Ok', () => 'ok');
    const sent = await bus.send(d, 'Ok', {});
    worker = bus.worker({ pollIntervalMs: 50 });
    const recorder = new Recorder(worker);
    failing['claim'] = 2;
    failing['settle'] = 1;
    await worker.start();
    await recorder.until('completed', sent.id);
    const health = recorder.events.filter((r) => r.name === 'storeDown' || r.name === 'storeUp');
    const error = {
      code: 'ERROR',
      message: expect.stringContaining('connection refused') as unknown,
    };
    // one down and one up per operation, whatever the number of failed calls
    expect(health.filter((r) => r.event.operation === 'claim')).toEqual([
      {
        name: 'storeDown',
        event: { workerId: worker.workerId, operation: 'claim', error },
      },
      {
        name: 'storeUp',
        event: {
          workerId: worker.workerId,
          operation: 'claim',
          downMs: expect.any(Number) as unknown,
          failures: 2,
        },
      },
    ]);
    expect(health.filter((r) => r.event.operation === 'settle')).toEqual([
      {
        name: 'storeDown',
        event: { workerId: worker.workerId, operation: 'settle', error },
      },
      {
        name: 'storeUp',
        event: {
          workerId: worker.workerId,
          operation: 'settle',
          downMs: expect.any(Number) as unknown,
          failures: 1,
        },
      },
    ]);
    await worker.stop();
    expectStatsMatch(worker, recorder);
  });
});
