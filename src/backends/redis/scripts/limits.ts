/**
 * Rate limits and concurrency caps, shared by every worker of the store and timed by the
 * Redis clock. Each is one key with its own hash tag (its name), so it works unchanged on
 * Redis Cluster, and each key expires once it holds nothing worth keeping.
 */

/**
 * takeToken: a token bucket. A missing bucket is full. Refills continuously at one token
 * per ARGV[2] ms up to ARGV[1]; takes one if there is one.
 *
 * KEYS[1] the bucket (hash: tokens, ts)
 * ARGV[1] capacity, ARGV[2] ms per token
 * Returns {1, 0} when granted, {0, retryAfterMs} when not.
 */
export const takeTokenScript = {
  name: 'dbxTakeToken',
  keys: 1,
  lua: `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local capacity, per = tonumber(ARGV[1]), tonumber(ARGV[2])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens, ts = tonumber(b[1]), tonumber(b[2])
if not tokens then tokens, ts = capacity, now end
tokens = math.min(capacity, tokens + math.max(0, now - ts) / per)
local granted = tokens >= 1
if granted then tokens = tokens - 1 end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'ts', string.format('%.17g', math.max(ts, now)))
-- once full again the bucket is the same as no bucket
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) * per) + 1000)
if granted then return {1, 0} end
return {0, math.max(1, math.ceil((1 - tokens) * per))}
`,
};

/**
 * acquireSlot: a concurrency cap as a zset of holders scored by slot expiry. Expired
 * slots are dropped; a holder acquiring again renews its slot.
 *
 * KEYS[1] the cap's holders (zset)
 * ARGV[1] limit, ARGV[2] holder, ARGV[3] lease ms
 * Returns 1 when the holder has a slot, 0 when the cap is full.
 */
export const acquireSlotScript = {
  name: 'dbxAcquireSlot',
  keys: 1,
  lua: `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit, holder, lease = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local others = redis.call('ZCARD', KEYS[1])
if redis.call('ZSCORE', KEYS[1], holder) then others = others - 1 end
if others >= limit then return 0 end
redis.call('ZADD', KEYS[1], string.format('%d', now + lease), holder)
if redis.call('PTTL', KEYS[1]) < lease + 1000 then redis.call('PEXPIRE', KEYS[1], lease + 1000) end
return 1
`,
};
