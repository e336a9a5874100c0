/**
 * The load generator and the demo handlers on every store: a load goes out as one batch
 * of demo commands carrying their odds; bad parameters are refused, naming the field, and
 * send nothing; a cancelled load leaves nothing; the demo handlers roll each command's
 * own odds when it carries valid ones, else their configured odds.
 */
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../src/backends/backend.js';
import { CommandBus } from '../src/bus/bus.js';
import { DEMO_DOMAIN, demoCommand, registerDemoHandlers } from '../src/console/demo/handlers.js';
import { generateLoad, LOAD_CHUNK } from '../src/console/load-generator.js';
import type { DemoOdds } from '../src/console/load-model.js';
import { UnknownHandlerError, ValidationError } from '../src/core/errors.js';
import { waitUntil } from './fixtures/wait-until.js';
import { everyStore } from './helpers/stores.js';

function jobControl(onProgress?: (done: number) => void) {
  const controller = new AbortController();
  const reports: number[] = [];
  return {
    signal: controller.signal,
    progress(done: number) {
      reports.push(done);
      onProgress?.(done);
    },
    reports,
    abort: () => controller.abort(),
  };
}

const odds: DemoOdds = { permanentPct: 5, transientPct: 10, timeoutPct: 1, minMs: 5, maxMs: 50 };
const stores = await everyStore('load');

for (const store of stores) {
  describe.runIf(store.available)(`load generator: ${store.name}`, () => {
    let backend: Backend;
    let bus: CommandBus;
    beforeAll(async () => {
      backend = await store.open();
      bus = new CommandBus({ backend, logger: pino({ level: 'silent' }) });
    });
    afterAll(async () => {
      await store.destroy(backend);
      await backend.close();
    });

    const domain = () => `load-${randomUUID().slice(0, 8)}`;

    it('sends the load as one batch of demo commands carrying their odds', async () => {
      const d = domain();
      const job = jobControl();
      const batch = await generateLoad(bus, { count: 7, ...odds, domain: d }, job);
      expect(batch).toMatchObject({ counts: { total: 7, pending: 7 } });
      expect(batch.name).toBe(
        'load: 7 demo commands (5% permanent, 10% transient, 1% timeout, 5-50 ms)',
      );
      expect(job.reports).toEqual([7]);
      const sent = await bus.list({ domain: d });
      expect(sent.map((c) => [c.type, c.batchId])).toEqual(
        Array.from({ length: 7 }, (_, n) => [demoCommand(n).type, batch.id]),
      );
      expect(sent[1]!.data).toEqual({ n: 1, amountCents: 101, odds });
      expect(sent.every((c) => (c.data as { odds: unknown }).odds !== undefined)).toBe(true);
    });

    it('refuses bad parameters, naming the field, and sends nothing', async () => {
      const d = domain();
      const cases: [object, string][] = [
        [{ count: 0 }, 'count'],
        [{ count: 1_000_001 }, 'count'],
        [{ permanentPct: 60, transientPct: 50 }, 'permanentPct'],
        [{ timeoutPct: -5 }, 'timeoutPct'],
        [{ minMs: 100, maxMs: 10 }, 'minMs'],
        [{ maxMs: 60_001 }, 'maxMs'],
        [{ domain: 'no spaces allowed' }, 'domain'],
      ];
      for (const [change, field] of cases) {
        const params = { count: 3, ...odds, domain: d, ...change };
        const refused = generateLoad(bus, params, jobControl());
        await expect(refused, JSON.stringify(change)).rejects.toThrow(ValidationError);
        await expect(refused).rejects.toMatchObject({ path: field });
      }
      // a strict bus without handlers for the load's domain refuses it up front
      const strict = new CommandBus({ backend, strict: true, logger: pino({ level: 'silent' }) });
      await expect(
        generateLoad(strict, { count: 3, ...odds, domain: d }, jobControl()),
      ).rejects.toThrow(UnknownHandlerError);
      expect(await bus.count({ domain: d })).toBe(0);
    });

    it('reports progress per chunk, and a cancelled load leaves nothing behind', async () => {
      const d = domain();
      const job = jobControl(() => job.abort());
      await expect(
        generateLoad(bus, { count: LOAD_CHUNK + 10, ...odds, domain: d }, job),
      ).rejects.toThrow();
      expect(job.reports).toEqual([LOAD_CHUNK]);
      expect(await bus.count({ domain: d })).toBe(0);
    });

    it('the demo handlers roll with the odds a command carries, else their own', async () => {
      const demo = new CommandBus({ backend, logger: pino({ level: 'silent' }) });
      // configured: every attempt fails permanently
      registerDemoHandlers(demo, {
        permanentPct: 100,
        transientPct: 0,
        timeoutPct: 0,
        minMs: 0,
        maxMs: 0,
      });
      const calm: DemoOdds = {
        permanentPct: 0,
        transientPct: 0,
        timeoutPct: 0,
        minMs: 0,
        maxMs: 5,
      };
      const timingOut: DemoOdds = { ...calm, timeoutPct: 100, maxMs: 0 };
      const sent = await demo.sendMany([
        demoCommand(0, calm),
        demoCommand(1, calm),
        demoCommand(2), // no odds: the configured ones
        { ...demoCommand(3), data: { n: 3, odds: { ...calm, permanentPct: 101 } } }, // invalid
        demoCommand(4, timingOut),
      ]);
      const worker = demo.worker({ pollIntervalMs: 50 });
      await worker.start();
      try {
        const finished = async () => {
          const states = await Promise.all(sent.map((c) => demo.get(c.id)));
          return states.every((c) => c.state === 'completed' || c.state === 'troubleshooting');
        };
        // four attempts of the timing-out command, each 1 s, with backoffs under 2 s
        await waitUntil(finished, 30_000, 'every demo command has finished');
      } finally {
        await worker.stop();
      }
      const [a, b, c, d, e] = await Promise.all(sent.map((s) => demo.get(s.id)));
      expect([a!.state, b!.state]).toEqual(['completed', 'completed']);
      expect([c, d].map((x) => [x!.state, x!.lastError?.code])).toEqual([
        ['troubleshooting', 'DEMO_PERMANENT'],
        ['troubleshooting', 'DEMO_PERMANENT'],
      ]);
      expect(e).toMatchObject({
        state: 'troubleshooting',
        attempts: 4,
        lastError: { code: 'TIMEOUT', message: 'handler did not finish within 1000 ms' },
      });
      expect(e!.domain).toBe(DEMO_DOMAIN);
    });
  });
}
