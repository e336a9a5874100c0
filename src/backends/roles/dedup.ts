/**
 * The deduplication role: which event ids a consumer group has already handled, kept for
 * a time to live. A stream consumer asks before handling an event and records it after,
 * so an event redelivered within the TTL is acknowledged without running its handler
 * again. Kept by the SQL stores; `dispatchbox/streams` also has a Redis one (SET with a
 * TTL) that needs no command store.
 */
export interface DedupStore {
  /** Of `ids`, those recorded for `scope` and not yet expired. */
  seenEvents(scope: string, ids: string[]): Promise<Set<string>>;
  /** Records `ids` as handled for `scope` until `ttlMs` from now (kept if already there). */
  rememberEvents(scope: string, ids: string[], ttlMs: number): Promise<void>;
}
