/**
 * `dispatchbox streams`: runs the stream handler modules of a directory (one consumer per
 * module) or one of them (--stream, --group), serves /ready and /metrics, and stops on
 * SIGTERM with exit 0; a selection that matches no module is refused, naming the modules.
 * On the Redis Streams transport (the shared Redis, database 5).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streamService, type StreamService } from '../src/streams/index.js';
import { redisStreams } from '../src/streams/transports/redis/index.js';
import { waitUntil } from './fixtures/wait-until.js';
import { spawnCli } from './helpers/cli-process.js';
import { deletePrefix, redisAvailable, REDIS_URL, uniquePrefix } from './helpers/redis.js';
import { freePort } from './helpers/servers.js';

const prefix = uniquePrefix('streams-cli');
const dir = mkdtempSync(path.join(tmpdir(), 'dispatchbox-streams-cli-'));
const redis = new Redis(REDIS_URL);
let producer: StreamService;
const env = {
  DISPATCHBOX_STREAMS_URL: REDIS_URL,
  DISPATCHBOX_DATA_DIR: path.join(dir, 'data'),
  TEST_RESOURCES_STREAM: `${prefix}:resources:commands`,
  TEST_ROUTES_STREAM: `${prefix}:routes:commands`,
  TEST_EFFECTS_URL: REDIS_URL,
  TEST_EFFECTS_KEY: `${prefix}:effects`,
};

beforeAll(async () => {
  if (!(await redisAvailable())) throw new Error('Redis is needed at 127.0.0.1:6379');
  producer = streamService({
    name: 'test',
    transport: redisStreams({ url: REDIS_URL }),
    logger: pino({ level: 'silent' }),
  })
    .produce()
    .build();
  await producer.start();
});

afterAll(async () => {
  await producer.stop();
  await deletePrefix(prefix);
  redis.disconnect();
  rmSync(dir, { recursive: true, force: true });
});

describe('dispatchbox streams', () => {
  it('runs every handler module, reports ready with its metrics, and stops on SIGTERM with exit 0', async () => {
    const port = await freePort();
    const seen: Record<string, string> = {};
    const run = await spawnCli(
      ['streams', '--dir', 'test/fixtures/stream-handlers'],
      { ...env, DISPATCHBOX_HEALTH_PORT: String(port) },
      {
        onLine: (line, signal) => {
          if (!line.startsWith('health endpoints:')) return;
          void (async () => {
            try {
              for (let n = 0; n < 5; n++) {
                await producer.producer.publish(
                  env.TEST_RESOURCES_STREAM,
                  `r${n}`,
                  { resource: `r${n}` },
                  { correlationId: 'c-1' },
                );
                await producer.producer.publish(env.TEST_ROUTES_STREAM, null, {
                  route: `route-${n}`,
                });
              }
              await waitUntil(
                async () =>
                  (await redis.scard(`${env.TEST_EFFECTS_KEY}:resources`)) === 5 &&
                  (await redis.scard(`${env.TEST_EFFECTS_KEY}:routes`)) === 5,
                20_000,
                'both handler modules handled their events',
              );
              const ready = await fetch(`http://127.0.0.1:${port}/ready`);
              seen.ready = `${ready.status}`;
              seen.metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
            } finally {
              signal('SIGTERM');
            }
          })();
        },
      },
    );
    expect(run.code, run.err).toBe(0);
    expect(seen.ready).toBe('200');
    expect(seen.metrics).toMatch(
      new RegExp(
        `dispatchbox_stream_messages_handled_total\\{transport="redis",topic="${env.TEST_RESOURCES_STREAM}",group="resources_handler_group"\\} 5`,
      ),
    );
    expect(run.out).toContain(
      `streams: ${env.TEST_RESOURCES_STREAM} as resources_handler_group, ${env.TEST_ROUTES_STREAM} as routes_handler_group on redis`,
    );
    expect(run.out).toContain('streams stopped');
    expect(await redis.smembers(`${env.TEST_EFFECTS_KEY}:resources`)).toContain('r0:c-1');
  }, 60_000);

  it('runs one handler module with --stream and --group (one process per handler)', async () => {
    const run = await spawnCli(
      [
        'streams',
        '--dir',
        'test/fixtures/stream-handlers',
        '--stream',
        env.TEST_ROUTES_STREAM,
        '--group',
        'routes_handler_group',
      ],
      env,
      { onLine: (line, signal) => line.startsWith('streams:') && signal('SIGTERM') },
    );
    expect(run.code, run.err).toBe(0);
    expect(run.out).toContain(
      `streams: ${env.TEST_ROUTES_STREAM} as routes_handler_group on redis`,
    );
    expect(run.out).not.toContain('resources_handler_group');
  }, 60_000);

  it('refuses a stream no module reads, naming the modules, and a missing stream URL', async () => {
    const none = await spawnCli(
      ['streams', '--dir', 'test/fixtures/stream-handlers', '--stream', 'nope'],
      env,
    );
    expect(none.code).not.toBe(0);
    expect(none.err).toContain('no stream handler module reads nope');
    expect(none.err).toContain('routes_handler_group');
    const noUrl = await spawnCli(['streams', '--dir', 'test/fixtures/stream-handlers'], {
      ...env,
      DISPATCHBOX_STREAMS_URL: '',
    });
    expect(noUrl.code).not.toBe(0);
    expect(noUrl.err).toContain('DISPATCHBOX_STREAMS_URL');
  }, 60_000);
});
