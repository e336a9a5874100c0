/**
 * The floor of each transport: its client library's own read-and-acknowledge loop, with
 * no Dispatchbox code at all (no transport, no envelope parsing). Same batch size and
 * the same pre-filled topic as the other variants, timed the same way: from the start of
 * the first read that returned messages to the acknowledgement of the last.
 */
import type { TransportSetup } from './streams-transports.js';
import { NATS_SERVERS, newRedisClient } from './streams-transports.js';

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
  const natsStream = setup.naming.natsStream;
  if (setup.name === 'nats' && natsStream) {
    return (params) => rawNatsLoop(natsStream(params.topic), params);
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

/**
 * @nats-io/jetstream: a durable pull consumer of its own on the transport's stream,
 * fetch({ max_messages: batch, expires: 1 s }), ack() each message (a publish with no
 * reply awaited, as the transport acknowledges) and one flush per batch.
 */
async function rawNatsLoop(stream: string, params: RawLoopParams): Promise<Timed> {
  const { connect } = await import('@nats-io/transport-node');
  const { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } =
    await import('@nats-io/jetstream');
  const connection = await connect({ servers: NATS_SERVERS });
  try {
    const jsm = await jetstreamManager(connection);
    await jsm.consumers.add(stream, {
      durable_name: params.group,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      max_ack_pending: 10_000,
    });
    const consumer = await jetstream(connection).consumers.get(stream, params.group);
    let first: number | null = null;
    let acked = 0;
    while (acked < params.count) {
      const asked = performance.now();
      const messages = await consumer.fetch({ max_messages: params.batchSize, expires: 1000 });
      let n = 0;
      for await (const message of messages) {
        message.ack();
        n += 1;
      }
      if (n === 0) continue;
      first ??= asked;
      await connection.flush();
      acked += n;
    }
    const ms = performance.now() - (first ?? performance.now());
    await jsm.consumers.delete(stream, params.group);
    return { messages: acked, ms };
  } finally {
    await connection.close();
  }
}

/** Deletes this run's JetStream streams (every stream whose name starts with the prefix). */
export async function deleteNatsStreams(streamPrefix: string): Promise<void> {
  const { connect } = await import('@nats-io/transport-node');
  const { jetstreamManager } = await import('@nats-io/jetstream');
  const connection = await connect({ servers: NATS_SERVERS });
  try {
    const jsm = await jetstreamManager(connection);
    for await (const name of jsm.streams.names()) {
      if (name.startsWith(streamPrefix)) await jsm.streams.delete(name);
    }
  } finally {
    await connection.close();
  }
}
