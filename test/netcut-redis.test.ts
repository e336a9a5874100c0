/**
 * A network cut on Redis: a worker's connections (commands and its blocking ticket
 * reads) go silent for 30 s mid-drain (no reset, no close), then the network comes back
 * (test/fixtures/netcut-scenario.ts).
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDispatchbox, type CommandBus, type Worker } from '../src/index.js';
import { TICKET_GROUP } from '../src/backends/redis/keys.js';
import type { RedisBackend } from '../src/backends/redis/redis-backend.js';
import { expectNetcutRecovered, runNetcut } from './fixtures/netcut-scenario.js';
import type { NetcutWorkerProcess } from './fixtures/netcut-shared.js';
import type { BlackholeProxy } from './helpers/blackhole-proxy.js';
import { deletePrefix, redisAvailable, REDIS_URL, uniquePrefix } from './helpers/redis.js';

const available = await redisAvailable();

describe.runIf(available)('network cut: a worker cut off from Redis in silence', () => {
  const prefix = uniquePrefix('netcut');
  const cleanup: { proxy?: BlackholeProxy; a?: NetcutWorkerProcess; b?: Worker } = {};
  let bus: CommandBus | undefined;

  beforeAll(async () => {
    bus = await createDispatchbox({
      databaseUrl: REDIS_URL,
      schema: prefix,
      logger: pino({ level: 'silent' }),
    });
  });

  afterAll(async () => {
    await cleanup.a?.kill();
    await cleanup.b?.stop(2000);
    await cleanup.proxy?.close();
    await bus?.close();
    await deletePrefix(prefix);
  });

  it('notices within its lease, aborts, is taken over, has its late outcomes refused and comes back: each command once', async () => {
    const run = await runNetcut(
      {
        bus: bus!,
        storePort: Number(new URL(REDIS_URL).port || 6379),
        proxiedUrl: (port) => {
          const u = new URL(REDIS_URL);
          u.hostname = '127.0.0.1';
          u.port = String(port);
          return u.toString();
        },
        schema: prefix,
        transactional: false,
        // a script runs whole or not at all: nothing A sent is left running after the cut
        quiesced: () => Promise.resolve(),
      },
      cleanup,
    );
    await expectNetcutRecovered(bus!, run);

    // Every delivery ticket was settled: none is left pending on either worker.
    const backend = (bus as unknown as { backend: RedisBackend }).backend;
    const pending = (await backend.client.xpending(
      backend.keysOf(run.domain).stream,
      TICKET_GROUP,
    )) as [number, ...unknown[]];
    expect(pending[0]).toBe(0);

    console.info(
      `netcut-redis: A held ${run.held.length} when cut; gave up its leases ${run.a.expired[0]!.at - run.cutAt} ms after the cut ` +
        `(${run.a.expired[0]!.running} running, ${run.a.expired[0]!.buffered} buffered); ` +
        `${run.a.progress.stale} late outcomes refused; completed ${run.a.progress.completed - run.atRestore.completed} after the restore`,
    );
  }, 120_000);
});
