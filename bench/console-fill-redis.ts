/**
 * The retained history of console-fill.ts on a store without SQL (Redis): made through
 * the library itself, as an application makes it. Sent in chunks (a tenth as batches of
 * 1,000, a fifth with a shared correlation id), 1 % cancelled, then a worker drains it,
 * its handlers failing 0.2 % with one of the 30 error messages (ids and numbers in them)
 * as permanent errors; last, 0.3 % more sent and left pending.
 */
import type { CommandBus, SendItem } from '../src/bus/bus.js';
import { PermanentError } from '../src/core/errors.js';
import { DOMAINS, ERRORS, TYPES } from './console-fill.js';
import type { Known } from './console-queries.js';
import type { Log } from './console-store.js';

const hash = (i: number) => Number((BigInt(i) * 2654435761n) % 4294967296n);

function item(i: number, troubleshootEvery: number): SendItem {
  const h = hash(i);
  const fails = i % troubleshootEvery === 7;
  const e = Math.floor(Math.sqrt(Math.floor(h / 50) % 900));
  return {
    domain: DOMAINS[h % 10]!,
    type: TYPES[Math.floor(h / 10) % 5]!,
    data: {
      orderId: i,
      customer: `cust-${h % 100_000}`,
      amount: (h % 100_000) / 100,
      currency: 'EUR',
      note: 'bench row',
      ...(fails
        ? { fail: e, n: h % 9973, ref: ((h ^ i) >>> 0).toString(16).padStart(10, '0') }
        : {}),
    },
    correlationId: Math.floor(i / 5) % 5 === 0 ? `corr-${Math.floor(i / 5)}` : undefined,
  };
}

export async function fillThroughLibrary(
  bus: CommandBus,
  options: { count: number; troubleshooting: number; pendingCount: number; log: Log },
): Promise<Known> {
  const { count, pendingCount, log } = options;
  const settled = count - pendingCount;
  const troubleshootEvery = Math.max(2, Math.floor(settled / options.troubleshooting));
  for (const domain of DOMAINS)
    for (const type of TYPES)
      bus.handle(domain, type, async (payload) => {
        await Promise.resolve();
        const data = payload as { fail?: number; n?: number; ref?: string };
        if (data.fail === undefined) return { ok: true };
        const [code, template] = ERRORS[data.fail]!;
        throw new PermanentError(
          template.replace('{n}', String(data.n)).replace('{id}', data.ref ?? ''),
          { code },
        );
      });
  const began = Date.now();
  let batchId = '';
  let midway = new Date();
  const toCancel: string[] = [];
  const send = async (from: number, to: number) => {
    for (let start = from; start < to; start += 1000) {
      const items = Array.from({ length: Math.min(1000, to - start) }, (_, k) =>
        item(start + k, troubleshootEvery),
      );
      if (start >= count / 2 && !batchId) midway = new Date();
      if ((start / 1000) % 10 === 0) {
        const batch = await bus.createBatch({ name: 'bench batch', commands: items });
        if (start >= count / 2 && !batchId) batchId = batch.id;
      } else {
        const sent = await bus.sendMany(items);
        sent.forEach((c, k) => {
          if (Math.floor(hash(start + k) / 1000) % 100 === 11) toCancel.push(c.id);
        });
      }
      if (start % 100_000 === 0) log(`  sent ${start.toLocaleString('en')}`);
    }
  };
  await send(1, settled + 1);
  log(`  cancelling ${toCancel.length.toLocaleString('en')}`);
  for (const id of toCancel) await bus.cancel(id, { actor: 'bench', reason: 'bench fill' });
  log('  draining');
  const worker = await bus.worker({ concurrency: 64 }).start();
  for (;;) {
    const counts = await bus.countByState();
    if (counts.pending === 0 && counts.in_progress === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  await worker.stop();
  await send(settled + 1, count + 1);
  const end = Date.now();
  return {
    batchId,
    correlationId: `corr-${5 * Math.floor(count / 50)}`,
    recent: new Date(end - (end - began) / 144),
    midway,
  };
}
