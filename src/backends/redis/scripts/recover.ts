import { PRELUDE } from './prelude.js';

/**
 * recover: the domain's maintenance step.
 * 1. Due delayed commands move to their ready queues with their tickets (so a worker
 *    blocked on the stream wakes for them even when nothing else happens).
 * 2. Tickets of a dead consumer (idle longer than the longest recent lease, `maxlease`)
 *    are taken over with XAUTOCLAIM and acknowledged: a live worker's tickets never idle
 *    that long, since renew resets them. Their commands are dealt with by step 3 (the
 *    lease expired) or were ready all along.
 * 3. Commands whose lease expired go back to pending (the attempt counts, with a new
 *    ticket) or, with no attempt left (the send's max attempts, else the handler policy
 *    the claim wrote), to troubleshooting; each is audited as 'lease expired' by
 *    'system', and its old ticket is acknowledged.
 *
 * KEYS[1] leases    KEYS[2] trouble    KEYS[3] stream    KEYS[4] maxlease
 * ARGV[1] key base, ARGV[2] limit, ARGV[3] lease ms assumed when maxlease is unset
 * Returns {number recovered, batch ids of commands that reached a final state,
 *   number of tickets taken from dead consumers}.
 */
export const recoverScript = {
  name: 'dbxRecover',
  keys: 4,
  lua: `${PRELUDE}
local now = now_ms()
local limit = tonumber(ARGV[2])
promote_due(now)

local idle = tonumber(redis.call('GET', KEYS[4]) or ARGV[3])
local taken = redis.pcall('XAUTOCLAIM', KEYS[3], GROUP, 'dispatchbox-recovery', idle, '0-0', 'COUNT', limit, 'JUSTID')
local reclaimed = 0
-- NOGROUP (no worker has read this domain yet) leaves nothing to take over
if not taken.err then
  reclaimed = #taken[2]
  ack_tickets(taken[2])
end

local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. now, 'LIMIT', 0, limit)
local err = '{"code":"LEASE_EXPIRED","message":"the worker stopped renewing its lease (crashed, hung or cut off)"}'
local n, batches, seen, acks = 0, {}, {}, {}
local R = named({'s', 'a', 'm', 'sa', 'w', 'b', 'e', 't', 'p', 'tk', 'pm'})
for _, id in ipairs(expired) do
  redis.call('ZREM', KEYS[1], id)
  local key = ckey(id)
  local f = redis.call('HMGET', key, unpack(R))
  if f[R.s] == IN_PROGRESS then
    local attempts = tonumber(f[R.a])
    -- the send's max attempts, else the handler policy its claim wrote
    local limit = tonumber(f[R.m]) or tonumber(f[R.pm])
    local to = (limit and attempts >= limit) and TROUBLESHOOTING or PENDING
    local batch = f[R.b]
    if f[R.tk] and f[R.tk] ~= '' then acks[#acks + 1] = f[R.tk] end
    redis.call('HSET', key, 's', to, 'e', err, 'r', int(now), 'u', int(now), 'tk', '')
    redis.call('HDEL', key, 'lt', 'le')
    if to == PENDING then
      enqueue(id, f[R.t], f[R.p], now, now)
    else
      redis.call('ZADD', KEYS[2], 0, id)
      if batch and not seen[batch] then
        seen[batch] = true
        batches[#batches + 1] = batch
      end
    end
    audit(key, now, f[R.sa], IN_PROGRESS, to, attempts, f[R.w], 'system', 'lease expired', err)
    moved(f[R.t], batch, IN_PROGRESS, to, f[R.e], err)
    n = n + 1
  end
end
ack_tickets(acks)
flush_writes()
return {n, batches, reclaimed}
`,
};
