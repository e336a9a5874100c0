/**
 * Rate limits for four external APIs, shared by every worker of the store:
 *
 *   crm       10 a minute   (bursts of up to 10, then one every 6 s)
 *   geocoder   1 a second
 *   sms        8 a minute
 *   payments   1 a second
 *
 * A command whose bucket is empty waits for its next token (in the worker when it is due
 * within 2 s, back in the store otherwise): it spends no attempt and holds no worker slot
 * meanwhile. A handler that calls an API mid-run takes
 * the token itself with `ctx.rateLimit(name)`. Reports are capped at 2 running at once
 * across all workers.
 *
 * Run: npx tsx examples/rate-limits.ts   (embedded database in memory; about 6 s)
 */
import { setTimeout as delay } from 'node:timers/promises';
import pino from 'pino';
import { createDispatchbox } from '../src/index.js';

const API_LIMITS = {
  crm: { limit: 10, per: '1m' },
  geocoder: { limit: 1, per: '1s' },
  sms: { limit: 8, per: '1m' },
  payments: { limit: 1, per: '1s' },
} as const;

const bus = await createDispatchbox({ dataDir: 'memory', logger: pino({ level: 'warn' }) });
const startedAt = Date.now();
const log = (what: string) =>
  console.log(`${((Date.now() - startedAt) / 1000).toFixed(1).padStart(5)} s  ${what}`);

// Mid-handler calls name their bucket; its spec is defined once, here.
bus.registry.rateLimits.define('geocoder', API_LIMITS.geocoder);

bus.handle(
  'crm',
  'SyncContact',
  { rateLimit: { key: 'crm', ...API_LIMITS.crm } },
  (data: { id: number }) => log(`crm: sync contact ${data.id}`),
);
bus.handle(
  'geo',
  'Geocode',
  { rateLimit: { key: 'geocoder', ...API_LIMITS.geocoder } },
  (data: { address: string }) => log(`geocoder: ${data.address}`),
);
bus.handle(
  'notify',
  'SendSms',
  // One bucket for the SMS provider, and one per tenant so no tenant takes all of it.
  {
    rateLimit: [
      { key: 'sms', ...API_LIMITS.sms },
      {
        key: (command) => `sms:${(command.data as { tenant: string }).tenant}`,
        limit: 2,
        per: '1m',
      },
    ],
  },
  (data: { tenant: string; to: string }) => log(`sms: to ${data.to} for ${data.tenant}`),
);
bus.handle(
  'billing',
  'Charge',
  { rateLimit: { key: 'payments', ...API_LIMITS.payments } },
  async (data: { order: string }, ctx) => {
    // The payment API is this handler's own limit; the address check mid-run shares the
    // geocoder's bucket with the Geocode commands.
    await ctx.rateLimit('geocoder');
    log(`payments: charge order ${data.order} (address checked)`);
  },
);
bus.handle(
  'reports',
  'GenerateReport',
  { globalConcurrency: 2 },
  async (data: { name: string }) => {
    log(`report ${data.name}: started`);
    await delay(500);
    log(`report ${data.name}: done`);
  },
);

const worker = await bus.worker({ pollIntervalMs: 250 }).start();
await bus.sendMany([
  ...[1, 2, 3].map((id) => ({ domain: 'crm', type: 'SyncContact', data: { id } })),
  ...['1 Main St', '2 High St', '3 Low Rd'].map((address) => ({
    domain: 'geo',
    type: 'Geocode',
    data: { address },
  })),
  ...['acme', 'acme', 'acme', 'globex'].map((tenant, i) => ({
    domain: 'notify',
    type: 'SendSms',
    data: { tenant, to: `+1555000${i}` },
  })),
  ...['A-1', 'A-2'].map((order) => ({ domain: 'billing', type: 'Charge', data: { order } })),
  ...['daily', 'weekly', 'monthly'].map((name) => ({
    domain: 'reports',
    type: 'GenerateReport',
    data: { name },
  })),
]);

// The third SMS for acme waits a minute for its tenant's bucket; everything else is done
// within a few seconds.
const deadline = Date.now() + 20_000;
while (worker.stats.completed < 14 && Date.now() < deadline) await delay(100);
log(
  `${worker.stats.completed} done; ${worker.stats.limited} times a command waited for a token or a slot`,
);
await worker.stop();
await bus.close();
