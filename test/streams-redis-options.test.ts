/**
 * The options the Redis Streams transport and its consumers refuse, each with an error
 * that names the option and says what it takes; a password in a URL is never shown.
 */
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { redisStreams } from '../src/streams/transports/redis/index.js';
import { redisAvailable, REDIS_URL, uniquePrefix } from './helpers/redis.js';

const available = await redisAvailable();

describe('Redis Streams transport options', () => {
  it.each([
    [{}, 'give url (redis://'],
    [{ url: 'redis://127.0.0.1:6379', client: {} }, 'client: must be an ioredis client'],
    [{ url: 'http://localhost:6379' }, 'url: has scheme http:'],
    [{ url: 'not a url' }, 'url: not a valid URL'],
    [{ url: 'redis://h:6379/zero' }, 'url: the path must be a database number'],
    [{ url: 42 }, 'url: must be a string'],
    [{ url: 'redis://h', maxLen: 0 }, 'maxLen: must be at least 1'],
    [{ url: 'redis://h', maxLen: 1.5 }, 'maxLen: must be a whole number'],
    [{ url: 'redis://h', keyPrefix: 3 }, 'keyPrefix: must be a string'],
    [{ url: 'redis://h', maxlen: 5 }, "unknown option 'maxlen'"],
  ])('refuses %j', (options, message) => {
    expect(() => redisStreams(options as never)).toThrow(message);
  });

  it('refuses url and client together', () => {
    const client = new Redis({ lazyConnect: true });
    expect(() => redisStreams({ url: 'redis://h', client })).toThrow(
      'give either url or client, not both',
    );
  });

  it("refuses a client with ioredis's own keyPrefix", () => {
    const client = new Redis({ lazyConnect: true, keyPrefix: 'app:' });
    expect(() => redisStreams({ client })).toThrow(
      'make it without, and give redisStreams the keyPrefix',
    );
  });

  it('never shows the password of a URL it refuses', () => {
    for (const url of [
      'http://user:s3cret-pw@host:6379',
      'redis://user:s3cret-pw@host:6379/db-one',
      'redis//user:s3cret-pw@host',
    ]) {
      expect(() => redisStreams({ url })).toThrow();
      try {
        redisStreams({ url });
      } catch (error) {
        expect((error as Error).message).not.toContain('s3cret');
      }
    }
  });

  it.runIf(available)('checks consumer options, naming the one wrong', async () => {
    const transport = redisStreams({ url: REDIS_URL, keyPrefix: `${uniquePrefix('opts')}:` });
    const good = {
      topics: ['t'],
      group: 'g',
      consumerName: 'c',
      claimIdleMs: 1000,
      startAt: 'earliest',
    };
    await expect(transport.consumer({ ...good, topics: [] } as never)).rejects.toThrow(
      'consumer options topics: must name at least one topic',
    );
    await expect(transport.consumer({ ...good, claimIdleMs: 0 } as never)).rejects.toThrow(
      'claimIdleMs: must be at least 1 ms',
    );
    await expect(transport.consumer({ ...good, startAt: 'first' } as never)).rejects.toThrow(
      "startAt: must be 'earliest' or 'latest'",
    );
    await transport.close();
  });
});
