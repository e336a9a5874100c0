/**
 * The outbox relay: every event of a committed transaction delivered, none of a rolled-back
 * one, in order per key, across a relay killed with kill -9 (a successor takes the lease
 * over) and across a PostgreSQL restart; its lag and pending events as metrics. PostgreSQL
 * (the shared server, a schema of the test's own; a private server for the restart) to
 * Redis Streams (the shared Redis, database 5).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { createPostgresBackend } from '../src/backends/postgres/index.js';
import { CommandBus } from '../src/bus/bus.js';
import { StreamMetrics } from '../src/streams/index.js';
import { startOutboxRelay } from '../src/streams/outbox-relay.js';
import { redisStreams } from '../src/streams/transports/redis/index.js';
import { waitUntil } from './fixtures/wait-until.js';
import { PrivatePostgres } from './helpers/postgres-server.js';
import { sqlAppStores } from './helpers/sql-app-stores.js';
import { deletePrefix, REDIS_URL, uniquePrefix } from './helpers/redis.js';
import { POSTGRES_URL, requireServer } from './helpers/servers.js';

const logger = pino({ level: 'silent' });
const prefix = uniquePrefix('relay');
const redis = new Redis(REDIS_URL);
const cleanups: (() => Promise<unknown>)[] = [];

afterAll(async () => {
  for (const clean of cleanups.reverse()) await clean().catch(() => undefined);
  await deletePrefix(prefix);
  redis.disconnect();
});

interface Delivered {
  id: string;
  key: string;
  n: number;
}

/** Every envelope written to `stream`, in stream order. */
async function readStream(stream: string): Promise<Delivered[]> {
  const entries = await redis.xrange(stream, '-', '+');
  return entries.map(([, fields]) => {
    const value = fields[fields.indexOf('v') + 1]!;
    const envelope = JSON.parse(value) as { id: string; key: string; data: { n: number } };
    return { id: envelope.id, key: envelope.key, n: envelope.data.n };
  });
}

/** Ids in the order each first arrived, per key. */
function firstArrivals(delivered: Delivered[]): Map<string, string[]> {
  const seen = new Set<string>();
  const byKey = new Map<string, string[]>();
  for (const d of delivered) {
    if (seen.has(d.id)) continue;
    seen.add(d.id);
    byKey.set(d.key, [...(byKey.get(d.key) ?? []), d.id]);
  }
  return byKey;
}

function startRelayChild(spec: object): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/relay-child.ts'], {
    env: { ...process.env, RELAY_CHILD: JSON.stringify(spec) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

describe('outbox relay', () => {
  it('delivers every committed event and none rolled back, in order per key, across a relay killed with kill -9', async () => {
    if (!(await requireServer('PostgreSQL', 5432))) return;
    const schema = `t_relay_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    const backend = await createPostgresBackend({ connectionString: POSTGRES_URL, schema });
    await backend.migrate();
    const bus = new CommandBus({ backend, logger });
    cleanups.push(async () => {
      await backend.driver.query(`DROP SCHEMA "${schema}" CASCADE`);
      await bus.close();
    });
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
    cleanups.push(() => pool.end());
    const keyPrefix = `${prefix}:kill:`;
    const spec = {
      postgresUrl: POSTGRES_URL,
      schema,
      redisUrl: REDIS_URL,
      keyPrefix,
      batchSize: 20,
    };

    const committed = new Map<string, string[]>();
    const rolledBack = new Set<string>();
    let transactions = 0;
    const publishSome = async (count: number) => {
      for (let t = 0; t < count; t++) {
        const client = await pool.connect();
        const ids: { key: string; id: string }[] = [];
        try {
          await client.query('BEGIN');
          for (let i = 0; i < 3; i++) {
            const key = `k${(transactions * 3 + i) % 7}`;
            const { id } = await bus.publish(
              'orders',
              key,
              { n: transactions * 3 + i },
              { tx: client },
            );
            ids.push({ key, id });
          }
          if (++transactions % 5 === 0) {
            await client.query('ROLLBACK');
            for (const { id } of ids) rolledBack.add(id);
          } else {
            await client.query('COMMIT');
            for (const { key, id } of ids) committed.set(key, [...(committed.get(key) ?? []), id]);
          }
        } finally {
          client.release();
        }
      }
    };

    await publishSome(100);
    const first = startRelayChild(spec);
    const stream = `${keyPrefix}orders`;
    await waitUntil(
      async () => (await redis.xlen(stream)) >= 60,
      30_000,
      'the first relay delivered 60 events',
    );
    first.kill('SIGKILL');
    await once(first, 'exit');
    const atKill = await redis.xlen(stream);
    await publishSome(100); // written while no relay runs
    const second = startRelayChild(spec);
    try {
      const total = [...committed.values()].reduce((n, ids) => n + ids.length, 0);
      await waitUntil(
        async () => (await backend.outbox.stats()).pending === 0,
        60_000,
        'the outbox emptied',
      );
      const delivered = await readStream(stream);
      const ids = new Set(delivered.map((d) => d.id));
      expect(ids.size).toBe(total);
      for (const id of rolledBack) expect(ids.has(id)).toBe(false);
      expect(firstArrivals(delivered)).toEqual(committed);
      console.info(
        `[relay kill -9] ${total} committed events (${rolledBack.size} rolled back), ${atKill} written before the kill, ${delivered.length - total} delivered twice`,
      );
    } finally {
      second.kill('SIGTERM');
      await once(second, 'exit');
    }
  }, 120_000);

  it('delivers from the embedded store too: committed events in order, none rolled back', async () => {
    const kinds = await sqlAppStores();
    const embedded = kinds.find((k) => k.name.startsWith('embedded'))!;
    const store = await embedded.open();
    cleanups.push(async () => {
      await store.close();
      await embedded.shutdown();
    });
    const keyPrefix = `${prefix}:embedded:`;
    const committed: string[] = [];
    const rolledBack: string[] = [];
    for (let n = 0; n < 30; n++) {
      const end = n % 3 === 2 ? 'rollback' : 'commit';
      await store.inTransaction(async (tx) => {
        const { id } = await store.bus.publish('signups', 'one-key', { n }, { tx });
        (end === 'commit' ? committed : rolledBack).push(id);
      }, end);
    }
    const relay = await startOutboxRelay({
      bus: store.bus,
      transport: redisStreams({ url: REDIS_URL, keyPrefix }),
      logger,
    });
    try {
      await waitUntil(
        () => relay.delivered === committed.length,
        20_000,
        'the committed events delivered',
      );
      const delivered = await readStream(`${keyPrefix}signups`);
      expect(delivered.map((d) => d.id)).toEqual(committed);
      expect(delivered.some((d) => rolledBack.includes(d.id))).toBe(false);
    } finally {
      await relay.stop();
    }
  }, 120_000);

  it('goes on by itself after a PostgreSQL restart, and its lag and pending events are metrics', async () => {
    const reason = PrivatePostgres.unavailableReason();
    if (reason !== null) throw new Error(reason);
    const server = await PrivatePostgres.create();
    cleanups.push(() => server.destroy());
    const backend = await createPostgresBackend({ connectionString: server.url });
    await backend.migrate();
    const bus = new CommandBus({ backend, logger });
    const metrics = new StreamMetrics();
    const keyPrefix = `${prefix}:restart:`;
    const relay = await startOutboxRelay({
      bus,
      transport: redisStreams({ url: REDIS_URL, keyPrefix }),
      logger,
      metrics,
      batchSize: 10,
    });
    cleanups.push(async () => {
      await relay.stop();
      await bus.close();
    });
    const ids: string[] = [];
    for (let n = 0; n < 100; n++) ids.push((await bus.publish('events', `k${n % 3}`, { n })).id);
    await waitUntil(() => relay.delivered >= 20, 20_000, 'some delivered before the restart');
    await server.stop('immediate');
    await server.start();
    for (let n = 100; n < 200; n++) {
      let published: string | null = null;
      await waitUntil(
        async () => {
          published = await bus.publish('events', `k${n % 3}`, { n }).then(
            (e) => e.id,
            () => null,
          );
          return published !== null;
        },
        30_000,
        `publish ${n} after the restart`,
        100,
      );
      ids.push(published!);
    }
    await waitUntil(
      async () => (await backend.outbox.stats()).pending === 0,
      60_000,
      'every event delivered after the restart',
    );
    const delivered = new Set((await readStream(`${keyPrefix}events`)).map((d) => d.id));
    expect(ids.every((id) => delivered.has(id))).toBe(true);
    const text = await metrics.text();
    expect(text).toMatch(/dispatchbox_outbox_pending 0/);
    expect(text).toMatch(/dispatchbox_outbox_lag_seconds 0/);
    expect(text).toMatch(
      /dispatchbox_outbox_events_relayed_total\{transport="redis",topic="events"\} \d+/,
    );
  }, 120_000);
});
