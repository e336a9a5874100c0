import type { TransportConsumer, TransportMessage } from '../../src/streams/transport.js';

/** Fetches until `count` messages came, acknowledging none; fails after `timeoutMs` saying how many came. */
export async function fetchCount(
  consumer: TransportConsumer,
  count: number,
  timeoutMs = 10_000,
  batch = 50,
): Promise<TransportMessage[]> {
  const got: TransportMessage[] = [];
  const deadline = Date.now() + timeoutMs;
  while (got.length < count) {
    if (Date.now() > deadline) throw new Error(`got ${got.length} of ${count} messages`);
    got.push(...(await consumer.fetch(Math.min(batch, count - got.length), 200)));
  }
  return got;
}
