/**
 * Redis replies read into plain shapes. A map reply comes as RESP2's array of pairs
 * (`protocol: 2`), as a flat [key, value, ...] array (ioredis's default: RESP3 with the
 * legacy mapping), or as an object (`replyMapping: 'resp3'`); all three are read here,
 * so any client the application hands over works.
 */

/** One stream entry: its id and its fields, or null fields when the entry was deleted (XDEL, trimmed) while pending. */
export interface StreamEntry {
  id: string;
  fields: Map<string, string> | null;
}

/** XREADGROUP's reply: the entries of each stream that had any. */
export function readGroupReply(reply: unknown): Map<string, StreamEntry[]> {
  const byStream = new Map<string, StreamEntry[]>();
  if (reply === null || reply === undefined) return byStream;
  if (!Array.isArray(reply)) {
    for (const [stream, entries] of Object.entries(reply as Record<string, unknown>)) {
      byStream.set(stream, entryList(entries));
    }
  } else if (reply.length > 0 && !Array.isArray(reply[0])) {
    // RESP3's map as ioredis's legacy mapping gives it: [stream, entries, stream, entries]
    for (let i = 0; i + 1 < reply.length; i += 2) {
      byStream.set(text(reply[i]), entryList(reply[i + 1]));
    }
  } else {
    // RESP2: [[stream, entries], ...]
    for (const [stream, entries] of reply as [unknown, unknown][]) {
      byStream.set(text(stream), entryList(entries));
    }
  }
  return byStream;
}

/** XAUTOCLAIM's reply: the cursor to go on from ('0-0' when the scan is through) and the entries taken. */
export function autoClaimReply(reply: unknown): { cursor: string; entries: StreamEntry[] } {
  const [cursor, entries] = reply as [unknown, unknown];
  return { cursor: text(cursor), entries: entryList(entries) };
}

function entryList(entries: unknown): StreamEntry[] {
  if (!Array.isArray(entries)) return [];
  return entries.map((entry) => {
    const [id, fields] = entry as [unknown, unknown];
    return { id: text(id), fields: fields === null ? null : fieldMap(fields) };
  });
}

function fieldMap(fields: unknown): Map<string, string> {
  const map = new Map<string, string>();
  if (Array.isArray(fields)) {
    for (let i = 0; i + 1 < fields.length; i += 2) map.set(text(fields[i]), text(fields[i + 1]));
  } else if (typeof fields === 'object' && fields !== null) {
    for (const [key, value] of Object.entries(fields)) map.set(key, text(value));
  }
  return map;
}

/** A map reply (XINFO GROUPS' groups): a flat [key, value, ...] array, or an object. */
export function record(reply: unknown): Record<string, unknown> {
  if (!Array.isArray(reply)) return (reply ?? {}) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (let i = 0; i + 1 < reply.length; i += 2) out[text(reply[i])] = reply[i + 1];
  return out;
}

/** XPENDING's extended form: how many times each entry was handed out. */
export function deliveryCounts(reply: unknown): Map<string, number> {
  const counts = new Map<string, number>();
  if (!Array.isArray(reply)) return counts;
  for (const row of reply) {
    const [id, , , count] = row as [unknown, unknown, unknown, unknown];
    counts.set(text(id), Number(count));
  }
  return counts;
}

/** XPENDING's summary form: the number of pending entries. */
export function pendingCount(reply: unknown): number {
  return Array.isArray(reply) ? Number(reply[0] ?? 0) : 0;
}

function text(value: unknown): string {
  return Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
}

/** The Redis error code a command failed with ('NOGROUP', 'BUSYGROUP', 'WRONGTYPE', ...), or null. */
export function redisErrorCode(error: unknown): string | null {
  if (!(error instanceof Error)) return null;
  return /^([A-Z]+)\b/.exec(error.message)?.[1] ?? null;
}

/** An entry id ('<ms>-<seq>') as numbers, to order ids. */
export function compareIds(a: string, b: string): number {
  const [aMs = 0n, aSeq = 0n] = a.split('-').map(BigInt);
  const [bMs = 0n, bSeq = 0n] = b.split('-').map(BigInt);
  if (aMs !== bMs) return aMs < bMs ? -1 : 1;
  return aSeq === bSeq ? 0 : aSeq < bSeq ? -1 : 1;
}

/** The `h` field: a JSON object of strings. Anything else (an entry written by another tool) reads as no headers. */
export function parseHeaders(text: string | undefined): Record<string, string> {
  if (!text) return {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return {};
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(parsed)) {
      if (typeof value === 'string') headers[name] = value;
    }
    return headers;
  } catch {
    return {};
  }
}
