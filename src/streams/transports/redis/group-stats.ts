import type { Redis } from 'ioredis';
import { pendingCount, record, redisErrorCode } from './replies.js';

/**
 * Entries of the streams the group has not finished: those not yet handed out (XINFO
 * GROUPS' `lag`, Redis 7) plus those handed out and not acknowledged (`pending`). Null
 * when Redis cannot tell the lag (it cannot after an XDEL in the unread part) or the
 * group is not on a stream.
 */
export async function groupLag(
  client: Redis,
  streams: string[],
  group: string,
): Promise<number | null> {
  const pipeline = client.pipeline();
  for (const stream of streams) pipeline.xinfo('GROUPS', stream);
  const replies = (await pipeline.exec()) ?? [];
  let total = 0;
  for (const [error, reply] of replies) {
    // no stream yet: nothing written, nothing to do
    if (error && /no such key/i.test(error.message)) continue;
    if (error) throw error;
    const info = (reply as unknown[]).map(record).find((g) => String(g.name) === group);
    if (!info) return null;
    const lag = info.lag;
    if (lag === null || lag === undefined) return null;
    total += Number(lag) + Number(info.pending ?? 0);
  }
  return total;
}

/** Entries handed out to the group's members and not acknowledged (XPENDING summary). */
export async function groupPending(
  client: Redis,
  streams: string[],
  group: string,
): Promise<number> {
  const pipeline = client.pipeline();
  for (const stream of streams) pipeline.xpending(stream, group);
  const replies = (await pipeline.exec()) ?? [];
  let total = 0;
  for (const [error, reply] of replies) {
    // no group (or stream): nothing was handed out
    if (error && redisErrorCode(error) === 'NOGROUP') continue;
    if (error) throw error;
    total += pendingCount(reply);
  }
  return total;
}
