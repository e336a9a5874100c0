import { randomFillSync } from 'node:crypto';

/**
 * Makes UUIDv7s (RFC 9562): 48 bits of Unix milliseconds, a 12-bit counter, then
 * randomness. Time-ordered ids keep the primary-key index append-mostly, which matters at
 * tens of thousands of inserts per second. The counter (RFC 9562 section 6.2, method 1)
 * makes the ids of one process strictly increasing even within a millisecond, so the
 * stores' "oldest first" tie-break on id follows the order of the sends. Written here
 * because it is a few lines and `crypto.randomUUID` only makes v4.
 */
export function createUuidv7(clock: () => number = Date.now): () => string {
  let lastMs = -1;
  let counter = 0;
  return () => {
    const bytes = randomSlice();
    const now = clock();
    if (now > lastMs) {
      lastMs = now;
      // Seeded at random below half its range, so a millisecond has 2,048 ids or more.
      counter = ((bytes[6]! << 8) | bytes[7]!) & 0x7ff;
    } else if (++counter > 0xfff) {
      // More ids in one millisecond than the counter holds (or the clock went back):
      // borrow the next millisecond rather than go out of order.
      lastMs += 1;
      counter = 0;
    }
    bytes.writeUIntBE(lastMs, 0, 6);
    bytes[6] = 0x70 | (counter >> 8);
    bytes[7] = counter & 0xff;
    bytes[8] = 0x80 | (bytes[8]! & 0x3f);
    const hex = bytes.toString('hex');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  };
}

/** A new UUIDv7, greater than every id this process made before it. */
export const uuidv7: () => string = createUuidv7();

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID_PATTERN.test(value);
}

// One call into the crypto module per 256 ids instead of one per id: at 100,000 sends a
// second the per-call cost of randomBytes(16) was a fifth of preparing a command.
const POOL = Buffer.alloc(16 * 256);
let offset = POOL.length;

function randomSlice(): Buffer {
  if (offset === POOL.length) {
    randomFillSync(POOL);
    offset = 0;
  }
  const slice = Buffer.from(POOL.subarray(offset, offset + 16));
  offset += 16;
  return slice;
}
