/**
 * The smallest Dispatchbox application: register a handler, send commands, run a worker,
 * and read a command back with its audit trail.
 *
 * Run: npx tsx examples/basic.ts   (embedded database in memory; exits by itself)
 */
import { setTimeout as delay } from 'node:timers/promises';
import pino from 'pino';
import { createDispatchbox, TransientError } from '../src/index.js';

const bus = await createDispatchbox({ dataDir: 'memory', logger: pino({ level: 'silent' }) });

let failedOnce = false;
bus.handle<{ to: string; subject: string }>(
  'email',
  'send-welcome',
  { maxAttempts: 3, backoff: { type: 'fixed', delay: '50ms' } },
  (data, ctx) => {
    // The first attempt fails, to show a retry in the audit trail.
    if (!failedOnce) {
      failedOnce = true;
      throw new TransientError('mail server busy');
    }
    console.log(`sending "${data.subject}" to ${data.to} (attempt ${ctx.attempt})`);
    return { delivered: true };
  },
);

const first = await bus.send('email', 'send-welcome', {
  to: 'ada@example.com',
  subject: 'Welcome',
});
await bus.send('email', 'send-welcome', { to: 'alan@example.com', subject: 'Welcome' });

const worker = await bus.worker({ concurrency: 2, pollIntervalMs: 50 }).start();
while ((await bus.get(first.id)).state !== 'completed') await delay(25);
await worker.stop();

const command = await bus.get(first.id);
console.log(`command ${command.id} is ${command.state} after ${command.attempts} attempts`);
for (const record of await bus.audit(first.id)) {
  console.log(`  ${record.fromState ?? '(new)'} -> ${record.toState}  ${record.reason ?? ''}`);
}
console.log('counts:', JSON.stringify(await bus.countByState('email')));
await bus.close();
