/**
 * The outbox pattern on the embedded database: the application writes its own row and
 * sends a command in ONE transaction, so the command exists only if the row does. A
 * rolled-back transaction leaves no command behind.
 *
 * Dispatchbox shares the application's PGlite instance. PGlite is one connection: while
 * the application's transaction runs, Dispatchbox's other queries wait for it.
 *
 * Run: npx tsx examples/outbox-pglite.ts   (in memory; exits by itself)
 */
import { PGlite } from '@electric-sql/pglite';
import { setTimeout as delay } from 'node:timers/promises';
import pino from 'pino';
import { createPGliteBackend } from '../src/backends/pglite/index.js';
import { CommandBus } from '../src/index.js';

const db = await PGlite.create();
await db.exec('CREATE TABLE orders (id text PRIMARY KEY, total_cents integer NOT NULL)');

const backend = await createPGliteBackend({ db });
await backend.migrate();
const bus = new CommandBus({ backend, logger: pino({ level: 'silent' }) });
bus.handle<{ orderId: string }>('shipping', 'ship-order', (data) => {
  console.log(`shipping order ${data.orderId}`);
});

// Committed: the order row and its command both exist.
await db.transaction(async (tx) => {
  await tx.query('INSERT INTO orders (id, total_cents) VALUES ($1, $2)', ['order-1', 1999]);
  await bus.send('shipping', 'ship-order', { orderId: 'order-1' }, { tx });
});

// Rolled back: neither the row nor the command exists.
try {
  await db.transaction(async (tx) => {
    await tx.query('INSERT INTO orders (id, total_cents) VALUES ($1, $2)', ['order-2', 500]);
    await bus.send('shipping', 'ship-order', { orderId: 'order-2' }, { tx });
    throw new Error('payment declined');
  });
} catch (error) {
  console.log(`transaction rolled back: ${(error as Error).message}`);
}

const orders = await db.query<{ id: string }>('SELECT id FROM orders ORDER BY id');
const commands = await bus.list({ domain: 'shipping' });
console.log(`orders: ${orders.rows.map((r) => r.id).join(', ')}`);
console.log(`commands: ${commands.map((c) => (c.data as { orderId: string }).orderId).join(', ')}`);

const worker = await bus.worker({ pollIntervalMs: 50 }).start();
while ((await bus.countByState('shipping')).completed < 1) await delay(25);
await worker.stop();
console.log(`completed: ${(await bus.countByState('shipping')).completed}`);
await bus.close();
await db.close();
