import type { Redis } from 'ioredis';
import { ConfigurationError } from '../../../core/errors.js';
import { redisErrorCode } from './replies.js';

/**
 * Makes the stream at `key` if there is none, as an empty stream: XGROUP CREATE ...
 * MKSTREAM is the one way Redis has to make a stream with no entry, and the group it
 * needs for that is removed in the same script, so racing callers see a stream or none.
 * Returns the key's type afterwards.
 */
const ENSURE_STREAM = `
local kind = redis.call('TYPE', KEYS[1]).ok
if kind == 'none' then
  redis.call('XGROUP', 'CREATE', KEYS[1], ARGV[1], '$', 'MKSTREAM')
  redis.call('XGROUP', 'DESTROY', KEYS[1], ARGV[1])
  return 'stream'
end
return kind
`;

/** A group name no application uses: it lives only inside ENSURE_STREAM. */
const PLACEHOLDER_GROUP = 'dispatchbox:ensure-stream';

/** Creates each stream that does not exist yet. Idempotent; racing callers are safe. */
export async function ensureStreams(client: Redis, keys: string[]): Promise<void> {
  await Promise.all(
    keys.map(async (key) => {
      const kind = String(await client.eval(ENSURE_STREAM, 1, key, PLACEHOLDER_GROUP));
      if (kind !== 'stream') throw notAStream(key, kind);
    }),
  );
}

/**
 * Creates the consumer group on the stream (and the stream), starting at the first entry
 * ('earliest') or after the last ('latest'). BUSYGROUP means another member (or an earlier
 * start) made it already: success, so any number of members may start at once.
 */
export async function ensureGroup(
  client: Redis,
  key: string,
  group: string,
  startAt: 'earliest' | 'latest',
): Promise<void> {
  try {
    await client.xgroup('CREATE', key, group, startAt === 'earliest' ? '0' : '$', 'MKSTREAM');
  } catch (error) {
    const code = redisErrorCode(error);
    if (code === 'BUSYGROUP') return;
    if (code === 'WRONGTYPE') throw notAStream(key, 'a value of another type');
    throw error;
  }
}

function notAStream(key: string, kind: string): ConfigurationError {
  return new ConfigurationError(
    `the Redis key ${JSON.stringify(key)} holds ${kind}, not a stream; pick another topic, or a keyPrefix that keeps the streams apart from other keys`,
  );
}

/**
 * Removes the consumer from the group on every stream, but only when it holds no pending
 * entry on any of them: DELCONSUMER drops a consumer's pending entries with it, and those
 * must stay for another member to take over. Checked and done in one script, so an entry
 * handed to the consumer meanwhile is never dropped. Returns whether it was removed.
 */
const DELETE_IDLE_CONSUMER = `
for _, key in ipairs(KEYS) do
  local ok, pending = pcall(redis.call, 'XPENDING', key, ARGV[1], '-', '+', 1, ARGV[2])
  if ok and #pending > 0 then return 0 end
end
for _, key in ipairs(KEYS) do
  pcall(redis.call, 'XGROUP', 'DELCONSUMER', key, ARGV[1], ARGV[2])
end
return 1
`;

export async function deleteConsumerIfIdle(
  client: Redis,
  keys: string[],
  group: string,
  consumer: string,
): Promise<boolean> {
  const removed = await client.eval(DELETE_IDLE_CONSUMER, keys.length, ...keys, group, consumer);
  return Number(removed) === 1;
}
