import { PRELUDE } from './prelude.js';

/** Values per settlement in the settle script's ARGV. */
export const SETTLE_STRIDE = 6;

/**
 * settle: writes the outcomes of attempts of one domain, each only while the command is
 * in progress under the presented fencing token; a late worker's outcome is refused.
 * Each applied outcome appends one audit entry for the whole attempt.
 *
 * KEYS[1] leases    KEYS[2] done    KEYS[3] trouble
 * ARGV[1] key base, ARGV[2] wake channel, ARGV[3] domain
 * ARGV[4...] per settlement, SETTLE_STRIDE values: id, token, kind, json, delayMs, reason
 *   kind: complete (json = result or '') | retry (json = error) | troubleshoot (json = error)
 *       | release (no attempt spent; reason says why)
 *
 * Returns {applied ids, batch ids of commands that reached a final state}.
 */
export const settleScript = {
  name: 'dbxSettle',
  keys: 3,
  lua: `${PRELUDE}
local now = now_ms()
local nows = int(now)
local applied, batches, seen = {}, {}, {}
local ended, done, trouble = {}, {}, {}
local wake = false
for i = 4, #ARGV, ${SETTLE_STRIDE} do
  local id, token, kind, json, delay, reason = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], tonumber(ARGV[i + 4]), ARGV[i + 5]
  local key = ckey(id)
  local f = redis.call('HMGET', key, 's', 'lt', 'a', 'sa', 'w', 'b', 'e', 't', 'p', 'au')
  if f[1] == 'in_progress' and f[2] == token then
    local attempt = tonumber(f[3])
    local err, to = f[7], nil
    -- the lease fields are blanked rather than deleted: one HSET does the whole transition
    local fields = {'lt', '', 'le', '', 'u', nows}
    ended[#ended + 1] = id
    if kind == 'complete' then
      to, reason = 'completed', 'succeeded'
      if json ~= '' then fields[#fields + 1] = 'res'; fields[#fields + 1] = json end
      done[#done + 1] = now
      done[#done + 1] = id
    elseif kind == 'troubleshoot' then
      to, reason, err = 'troubleshooting', 'failed; needs an operator', json
      fields[#fields + 1] = 'e'; fields[#fields + 1] = err
      trouble[#trouble + 1] = 0
      trouble[#trouble + 1] = id
    else
      to = 'pending'
      local run = now + delay
      fields[#fields + 1] = 'r'; fields[#fields + 1] = int(run)
      if kind == 'retry' then
        reason, err = 'failed; will retry', json
        fields[#fields + 1] = 'e'; fields[#fields + 1] = err
      else
        fields[#fields + 1] = 'a'; fields[#fields + 1] = attempt - 1
      end
      enqueue(id, f[8], f[9], run, now)
      if delay <= 0 then wake = true end
    end
    fields[#fields + 1] = 's'; fields[#fields + 1] = to
    fields[#fields + 1] = 'au'
    fields[#fields + 1] = audit_trail(f[10], now, f[4], 'in_progress', to, attempt, f[5], nil, reason,
      (kind == 'retry' or kind == 'troubleshoot') and json or nil)
    redis.call('HSET', key, unpack(fields))
    moved(f[6], 'in_progress', to, f[7], err)
    applied[#applied + 1] = id
    if f[6] and to ~= 'pending' and not seen[f[6]] then
      seen[f[6]] = true
      batches[#batches + 1] = f[6]
    end
  end
end
call_many('ZREM', KEYS[1], ended)
call_many('ZADD', KEYS[2], done)
call_many('ZADD', KEYS[3], trouble)
flush_counts()
if wake then redis.call('PUBLISH', ARGV[2], ARGV[3]) end
return {applied, batches}
`,
};

/**
 * renew: extends the leases still held under their tokens.
 *
 * KEYS[1] leases
 * ARGV[1] key base, ARGV[2] lease ms, ARGV[3...] pairs of id, token
 * Returns the ids renewed.
 */
export const renewScript = {
  name: 'dbxRenew',
  keys: 1,
  lua: `${PRELUDE}
local expires = now_ms() + tonumber(ARGV[2])
local renewed = {}
for i = 3, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local key = ckey(id)
  local f = redis.call('HMGET', key, 's', 'lt')
  if f[1] == 'in_progress' and f[2] == token then
    redis.call('HSET', key, 'le', int(expires))
    redis.call('ZADD', KEYS[1], expires, id)
    renewed[#renewed + 1] = id
  end
end
return renewed
`,
};

/**
 * recover: commands whose lease expired go back to pending (the attempt counts) or, with
 * no attempt left, to troubleshooting; each is audited as 'lease expired' by 'system'.
 *
 * KEYS[1] leases    KEYS[2] trouble
 * ARGV[1] key base, ARGV[2] limit, ARGV[3] wake channel, ARGV[4] domain
 * Returns {number recovered, batch ids of commands that reached a final state}.
 */
export const recoverScript = {
  name: 'dbxRecover',
  keys: 2,
  lua: `${PRELUDE}
local now = now_ms()
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. now, 'LIMIT', 0, tonumber(ARGV[2]))
local err = '{"code":"LEASE_EXPIRED","message":"the worker stopped renewing its lease (crashed, hung or cut off)"}'
local n, batches, seen, wake = 0, {}, {}, false
for _, id in ipairs(expired) do
  redis.call('ZREM', KEYS[1], id)
  local key = ckey(id)
  local f = redis.call('HMGET', key, 's', 'a', 'm', 'sa', 'w', 'b', 'e', 't', 'p')
  if f[1] == 'in_progress' then
    local attempts = tonumber(f[2])
    local to = attempts >= tonumber(f[3]) and 'troubleshooting' or 'pending'
    redis.call('HSET', key, 's', to, 'e', err, 'r', int(now), 'u', int(now))
    redis.call('HDEL', key, 'lt', 'le')
    if to == 'pending' then
      enqueue(id, f[8], f[9], now, now)
      wake = true
    else
      redis.call('ZADD', KEYS[2], 0, id)
      if f[6] and not seen[f[6]] then
        seen[f[6]] = true
        batches[#batches + 1] = f[6]
      end
    end
    audit(key, now, f[4], 'in_progress', to, attempts, f[5], 'system', 'lease expired', err)
    moved(f[6], 'in_progress', to, f[7], err)
    n = n + 1
  end
end
flush_counts()
if wake then redis.call('PUBLISH', ARGV[3], ARGV[4]) end
return {n, batches}
`,
};
