/**
 * Handlers as methods of a class, marked with `@handler(domain, type)`. The class gets its
 * dependencies through its constructor; `bus.register(instance)` registers each marked
 * method bound to that instance.
 *
 * Run: npx tsx examples/decorators.ts   (embedded database in memory; exits by itself)
 */
import { setTimeout as delay } from 'node:timers/promises';
import pino from 'pino';
import { z } from 'zod';
import { createDispatchbox, handler, PermanentError, type HandlerContext } from '../src/index.js';

/** A stand-in for a payment provider's client. */
class PaymentGateway {
  readonly charges: { orderId: string; cents: number }[] = [];
  charge(orderId: string, cents: number): Promise<string> {
    this.charges.push({ orderId, cents });
    return Promise.resolve(`ch_${orderId}`);
  }
}

const ChargeOrder = z.object({ orderId: z.string(), cents: z.number().int().positive() });

class BillingHandlers {
  constructor(private readonly gateway: PaymentGateway) {}

  @handler('billing', 'charge-order', { schema: ChargeOrder, maxAttempts: 5 })
  async chargeOrder(data: z.infer<typeof ChargeOrder>, ctx: HandlerContext) {
    if (data.cents > 1_000_000)
      throw new PermanentError('amount over the card limit', { code: 'OVER_LIMIT' });
    const chargeId = await this.gateway.charge(data.orderId, data.cents);
    // A follow-up command: it inherits this command's correlation id and names it as cause.
    await ctx.send('billing', 'send-receipt', { orderId: data.orderId, chargeId });
    return { chargeId };
  }

  @handler('billing', 'send-receipt')
  sendReceipt(data: { orderId: string; chargeId: string }) {
    console.log(`receipt for order ${data.orderId} (charge ${data.chargeId})`);
  }
}

const bus = await createDispatchbox({ dataDir: 'memory', logger: pino({ level: 'silent' }) });
const gateway = new PaymentGateway();
bus.register(new BillingHandlers(gateway));

// The schema refuses a bad payload at send: nothing is stored.
try {
  await bus.send('billing', 'charge-order', { orderId: 'A-1', cents: -5 });
} catch (error) {
  console.log(`refused at send: ${(error as Error).message}`);
}

const order = await bus.send('billing', 'charge-order', { orderId: 'A-1', cents: 4200 });
const tooBig = await bus.send('billing', 'charge-order', { orderId: 'A-2', cents: 5_000_000 });

const worker = await bus.worker({ pollIntervalMs: 50 }).start();
const done = async () => {
  const receipts = await bus.list({ domain: 'billing', type: 'send-receipt', state: 'completed' });
  return receipts.length === 1 && (await bus.get(tooBig.id)).state === 'troubleshooting';
};
while (!(await done())) await delay(25);
await worker.stop();

console.log(
  `charge-order ${(await bus.get(order.id)).state}; gateway charged ${JSON.stringify(gateway.charges)}`,
);
const failed = await bus.get(tooBig.id);
console.log(
  `charge-order A-2 is ${failed.state}: ${failed.lastError?.code} ${failed.lastError?.message}`,
);
await bus.close();
