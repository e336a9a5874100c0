/**
 * `bus.publish` beyond the happy path: bad input refused with an error naming the field
 * and nothing stored; one key's events ordered as their transactions commit (PostgreSQL,
 * where transactions run side by side); the Redis store refused with a ConfigurationError;
 * migration 13 applied to a database at version 12.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import pino from 'pino';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createPGliteBackend } from '../src/backends/pglite/index.js';
import { createRedisBackend } from '../src/backends/redis/index.js';
import { schemaSql } from '../src/backends/sql/migrator.js';
import { CommandBus } from '../src/bus/bus.js';
import type { PublishOptions } from '../src/bus/publish.js';
import { ConfigurationError, ValidationError } from '../src/core/errors.js';
import { waitUntil } from './fixtures/wait-until.js';
import { deletePrefix, redisAvailable, REDIS_URL, uniquePrefix } from './helpers/redis.js';
import { POSTGRES_URL } from './helpers/servers.js';
import { sqlAppStores, type AppStore } from './helpers/sql-app-stores.js';

const kinds = await sqlAppStores();
const embedded = kinds.find((k) => k.name.startsWith('embedded'))!;
const postgres = kinds.find((k) => k.name === 'PostgreSQL')!;
const redisUp = await redisAvailable();

/** Calls that must each be refused, and the field the error must name. */
const BAD: [string, string, (bus: CommandBus) => Promise<unknown>][] = [
  ['empty topic', 'topic', (bus) => bus.publish('', 'k', 1)],
  ['topic with a space', 'topic', (bus) => bus.publish('orders placed', 'k', 1)],
  ['topic with a NATS wildcard', 'topic', (bus) => bus.publish('orders.>', 'k', 1)],
  ['topic of 250 characters', 'topic', (bus) => bus.publish('t'.repeat(250), 'k', 1)],
  ['topic not text', 'topic', (bus) => bus.publish(7 as unknown as string, 'k', 1)],
  ['empty key', 'key', (bus) => bus.publish('t', '', 1)],
  ['key of 1025 characters', 'key', (bus) => bus.publish('t', 'k'.repeat(1025), 1)],
  ['key with U+0000', 'key', (bus) => bus.publish('t', 'a\0b', 1)],
  ['data with a function', 'data.f', (bus) => bus.publish('t', 'k', { f: () => 1 })],
  ['data undefined', 'data', (bus) => bus.publish('t', 'k', undefined)],
  ['data over the size limit', 'data', (bus) => bus.publish('t', 'k', 'x'.repeat(2048))],
  ['id not a UUID', 'id', (bus) => bus.publish('t', 'k', 1, { id: 'abc' })],
  ['empty type', 'type', (bus) => bus.publish('t', 'k', 1, { type: '' })],
  [
    'header value not text',
    'headers["n"]',
    (bus) => bus.publish('t', 'k', 1, { headers: { n: 1 as unknown as string } }),
  ],
  [
    'correlationId too long',
    'correlationId',
    (bus) => bus.publish('t', 'k', 1, { correlationId: 'c'.repeat(256) }),
  ],
  [
    'causationId with U+0000',
    'causationId',
    (bus) => bus.publish('t', 'k', 1, { causationId: '\0' }),
  ],
  [
    'tx without query()',
    'tx',
    (bus) => bus.publish('t', 'k', 1, { tx: {} as PublishOptions['tx'] }),
  ],
  [
    'unknown option',
    'options',
    (bus) => bus.publish('t', 'k', 1, { priority: 1 } as PublishOptions),
  ],
  ['options not an object', 'options', (bus) => bus.publish('t', 'k', 1, 'x' as PublishOptions)],
  [
    'publishMany, third event bad',
    'key',
    (bus) =>
      bus.publishMany([
        { topic: 't', key: 'a', data: 1 },
        { topic: 't', key: 'b', data: 2 },
        { topic: 't', key: '', data: 3 },
      ]),
  ],
];

describe.each([embedded, postgres])('bus.publish input: $name', ({ available, open, shutdown }) => {
  let store: AppStore;
  beforeEach(async () => {
    if (available) store = await open();
  });
  afterEach(async () => {
    if (available) await store.close();
  });
  afterAll(shutdown);

  it.runIf(available)('refuses each bad input naming the field, and stores nothing', async () => {
    const bus = new CommandBus({
      backend: store.backend,
      maxPayloadBytes: 1024,
      logger: pino({ level: 'silent' }),
    });
    for (const [what, path, call] of BAD) {
      const error = await call(bus).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error, what).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).path, what).toBe(path);
      expect((error as Error).message, what).toContain(path.split('[')[0]!.split('.')[0]!);
    }
    // publishMany's errors say which event
    await expect(
      bus.publishMany([
        { topic: 't', key: 'a', data: 1 },
        { topic: 't', key: '', data: 3 },
      ]),
    ).rejects.toThrow(/^\[1\] key/);
    expect(await store.backend.outbox.stats()).toEqual({ pending: 0, oldestCreatedAt: null });
    // and a good one after them all goes through
    await bus.publish('resources:commands', 'k'.repeat(1024), null);
    expect((await store.backend.outbox.stats()).pending).toBe(1);
  });
});

describe('bus.publish on PostgreSQL: one key in the order its transactions commit', () => {
  let store: AppStore;
  beforeEach(async () => {
    if (postgres.available) store = await postgres.open();
  });
  afterEach(async () => {
    if (postgres.available) await store.close();
  });

  it.runIf(postgres.available)(
    'a second transaction publishing a key waits for the first; other keys do not',
    async () => {
      const first = new pg.Client({ connectionString: POSTGRES_URL });
      const second = new pg.Client({ connectionString: POSTGRES_URL });
      await first.connect();
      await second.connect();
      try {
        const secondPid = (await second.query<{ pid: number }>('SELECT pg_backend_pid() AS pid'))
          .rows[0]!.pid;
        await first.query('BEGIN');
        await second.query('BEGIN');
        await store.bus.publish('orders', 'order-1', 'first', { tx: first });
        // another key goes through at once, in or out of a transaction
        await store.bus.publish('orders', 'order-2', 'other', { tx: second });
        await store.bus.publish('orders', 'order-3', 'outside');
        const waiting = store.bus.publish('orders', 'order-1', 'second', { tx: second });
        await waitUntil(
          async () =>
            (
              await store.backend.driver.query<{ waiting: boolean }>(
                `SELECT wait_event_type = 'Lock' AS waiting FROM pg_stat_activity WHERE pid = $1`,
                [secondPid],
              )
            ).rows[0]?.waiting === true,
          10_000,
          'the second publish of order-1 waits for the first transaction',
          20,
        );
        await first.query('COMMIT');
        await waiting;
        await second.query('COMMIT');
        const { events } = (await store.backend.outbox.claimEvents({
          relayId: 'r',
          leaseMs: 60_000,
          limit: 10,
        }))!;
        const order1 = events
          .filter((e) => e.key === 'order-1')
          .map((e) => JSON.parse(e.dataJson) as unknown);
        expect(order1).toEqual(['first', 'second']);
        expect(events).toHaveLength(4);
      } finally {
        await first.end();
        await second.end();
      }
    },
  );
});

describe('bus.publish on the Redis store', () => {
  it.runIf(redisUp)(
    'is refused with a ConfigurationError that says what to do instead',
    async () => {
      const prefix = uniquePrefix('publish');
      const backend = await createRedisBackend({ url: REDIS_URL, prefix });
      try {
        await backend.migrate();
        const bus = new CommandBus({ backend, logger: pino({ level: 'silent' }) });
        expect(bus.backend.outbox).toBeUndefined();
        expect(bus.backend.dedup).toBeUndefined();
        const error = await bus.publish('orders', 'k', { n: 1 }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ConfigurationError);
        expect((error as Error).message).toMatch(
          /Redis store cannot join the application.s transaction/,
        );
        expect((error as Error).message).toMatch(/stream producer/);
        await expect(bus.publishMany([{ topic: 'o', key: 'k', data: 1 }])).rejects.toBeInstanceOf(
          ConfigurationError,
        );
      } finally {
        await backend.close();
        await deletePrefix(prefix);
      }
    },
  );
});

describe('migration 13 on a database at version 12', () => {
  it('adds the outbox and dedup tables, and the lease row, to an existing schema', async () => {
    const schema = `before13_${randomUUID().slice(0, 8)}`;
    const backend = await createPGliteBackend({ schema });
    try {
      const upTo12 = schemaSql(schema).split('\n-- 013_')[0]!;
      await backend.driver.transaction((tx) => tx.exec(upTo12));
      await expect(backend.checkSchema()).rejects.toThrow(/version 12, this Dispatchbox needs 13/);
      const bus = new CommandBus({ backend, logger: pino({ level: 'silent' }) });
      await bus.send('d', 'T', { kept: true });
      await backend.migrate();
      await backend.checkSchema();
      expect((await bus.list({ domain: 'd' })).map((c) => c.data)).toEqual([{ kept: true }]);
      await bus.publish('t', 'k', 1);
      expect(
        (await backend.outbox.claimEvents({ relayId: 'r', leaseMs: 1000, limit: 5 }))!.events,
      ).toHaveLength(1);
      await backend.dedup.rememberEvents('g', ['e1'], 60_000);
      expect([...(await backend.dedup.seenEvents('g', ['e1', 'e2']))]).toEqual(['e1']);
    } finally {
      await backend.close();
    }
  });
});
