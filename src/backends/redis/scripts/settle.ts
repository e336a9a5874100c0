import { PRELUDE } from './prelude.js';

/**
 * How the settle script's settlements are packed into its one ARGV string: each
 * settlement's fields joined by FIELD_SEPARATOR and ended by RECORD_END. Neither can occur
 * inside a field: ids, tokens, kinds and reasons are ours, and JSON text escapes every
 * control character. One string rather than six arguments per settlement: the client
 * turned each argument into a protocol chunk of its own, several strings apiece, which
 * made writing a settlement cost more memory than running the command.
 */
export const FIELD_SEPARATOR = '\x1f';
export const RECORD_END = '\x1e';

/**
 * settle: writes a worker's outcomes, each only while its lease token is the command's.
 * An outcome refused as late changes nothing but the command's audit trail, where it is
 * recorded with its attempt, the worker, what it tried to write and why it was refused
 * (the command is out of in_progress, or another attempt's token holds it).
 *
 * KEYS[1] leases    KEYS[2] done    KEYS[3] trouble    KEYS[4] stream
 * ARGV[1] key base, ARGV[2] the settlements packed (packSettlements: id, token, attempt,
 * kind, result or error JSON, delay ms, reason), ARGV[3] the worker's id
 * Returns {ids refused, batch ids of commands that reached a final state}.
 */
export const settleScript = {
  name: 'dbxSettle',
  keys: 4,
  lua: `${PRELUDE}
local now = now_ms()
local nows = int(now)
local worker = ARGV[3]
local OUTCOMES = {complete = 'completed', retry = 'retry', troubleshoot = 'troubleshooting',
  release = 'released'}
local stale, batches, seen = {}, {}, {}
local ended, done, trouble, acks = {}, {}, {}, {}
-- one field list for every settlement's HSET: the lease fields are blanked rather than
-- deleted, so one HSET does the whole transition; the state (10) and the audit trail (12)
-- change, and what the outcome writes follows from 13
local fields = {'lt', '', 'le', '', 'tk', '', 'u', nows, 's', '', 'au', ''}
local packed = ARGV[2]
local record = '^([^\\31]*)\\31([^\\31]*)\\31([^\\31]*)\\31([^\\31]*)\\31([^\\31]*)\\31([^\\31]*)\\31([^\\30]*)\\30()'
local pos = 1
while pos <= #packed do
  local id, token, tried, kind, json, delay, reason, after = string.match(packed, record, pos)
  if not id then return redis.error_reply('ERR settle: malformed settlement at byte ' .. pos) end
  pos = after
  delay = tonumber(delay)
  local key = ckey(id)
  local f = redis.call('HMGET', key, 's', 'lt', 'a', 'sa', 'w', 'b', 'e', 't', 'p', 'au', 'tk')
  if f[1] == 'in_progress' and f[2] == token then
    -- numbers stay text where they can: a Lua number given to redis.call or joined into a
    -- string is printed with sprintf, which costs more than the write it is part of
    local attempt = f[3]
    local err, to = f[7], nil
    local m = 12
    ended[#ended + 1] = id
    if f[11] and f[11] ~= '' then acks[#acks + 1] = f[11] end
    if kind == 'complete' then
      to, reason = 'completed', 'succeeded'
      if json ~= '' then fields[m + 1] = 'res'; fields[m + 2] = json; m = m + 2 end
      done[#done + 1] = nows
      done[#done + 1] = id
    elseif kind == 'troubleshoot' then
      to, reason, err = 'troubleshooting', 'failed; needs an operator', json
      fields[m + 1] = 'e'; fields[m + 2] = err; m = m + 2
      trouble[#trouble + 1] = '0'
      trouble[#trouble + 1] = id
    else
      to = 'pending'
      local run = now + delay
      fields[m + 1] = 'r'; fields[m + 2] = int(run); m = m + 2
      if kind == 'retry' then
        reason, err = 'failed; will retry', json
        fields[m + 1] = 'e'; fields[m + 2] = err; m = m + 2
      else
        fields[m + 1] = 'a'; fields[m + 2] = int(tonumber(attempt) - 1); m = m + 2
      end
      enqueue(id, f[8], f[9], run, now)
    end
    fields[10] = to
    fields[12] = audit_trail(f[10], nows, f[4], 'in_progress', to, attempt, f[5], nil, reason,
      (kind == 'retry' or kind == 'troubleshoot') and json or nil)
    redis.call('HSET', key, unpack(fields, 1, m))
    moved(f[6], 'in_progress', to, f[7], err)
    if f[6] and to ~= 'pending' and not seen[f[6]] then
      seen[f[6]] = true
      batches[#batches + 1] = f[6]
    end
  else
    stale[#stale + 1] = id
    -- f[1] is false when the command is gone (pruned): nothing to record it on
    if f[1] then
      local why, detail
      if f[1] ~= 'in_progress' then
        why, detail = 'not in progress', 'the command is ' .. f[1] .. ' now'
      else
        why = 'stale token'
        detail = 'attempt ' .. (f[3] or '?') .. ' holds the command now (worker ' .. (f[5] or '') .. ')'
      end
      -- an attempt the caller left out is recorded as 0 rather than break the trail's JSON
      if not string.match(tried, '^%d+$') then tried = '0' end
      local outcome = OUTCOMES[kind] or kind
      local tried_err = (kind == 'retry' or kind == 'troubleshoot') and json or nil
      local refusal = '{"code":"LATE_OUTCOME_REFUSED","message":'
        .. cjson.encode(outcome .. ' of attempt ' .. tried .. ' refused: ' .. detail)
        .. ',"details":{"outcome":' .. js(outcome)
        .. (tried_err and (',"error":' .. tried_err) or '') .. '}}'
      redis.call('HSET', key, 'au', audit_trail(f[10], nows, nil, f[1], f[1], tried, worker, nil,
        'late outcome refused (' .. why .. ')', refusal))
    end
  end
end
call_many('ZREM', KEYS[1], ended)
call_many('ZADD', KEYS[2], done)
call_many('ZADD', KEYS[3], trouble)
ack_tickets(acks)
flush_writes()
return {stale, batches}
`,
};

/**
 * renew: extends the leases still held under their tokens, and resets the idle time of
 * their tickets (XCLAIM to the same consumer), so only a dead consumer's tickets ever
 * idle past the lease and are taken back by recover.
 *
 * KEYS[1] leases    KEYS[2] stream
 * ARGV[1] key base, ARGV[2] lease ms, ARGV[3...] pairs of id, token
 * Returns the ids renewed.
 */
export const renewScript = {
  name: 'dbxRenew',
  keys: 2,
  lua: `${PRELUDE}
local expires = now_ms() + tonumber(ARGV[2])
local renewed = {}
local tickets = {}
for i = 3, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local key = ckey(id)
  local f = redis.call('HMGET', key, 's', 'lt', 'tk', 'w')
  if f[1] == 'in_progress' and f[2] == token then
    redis.call('HSET', key, 'le', int(expires))
    redis.call('ZADD', KEYS[1], expires, id)
    renewed[#renewed + 1] = id
    if f[3] and f[3] ~= '' then
      local list = tickets[f[4]]
      if not list then list = {}; tickets[f[4]] = list end
      list[#list + 1] = f[3]
    end
  end
end
-- XCLAIM <stream> <group> <worker> 0 <tickets...> JUSTID: a call per worker (the list is
-- one worker's renewals, at most a few thousand, within Lua's unpack limit)
for worker, list in pairs(tickets) do
  local args = {'XCLAIM', KEYS[2], GROUP, worker, 0}
  for _, t in ipairs(list) do args[#args + 1] = t end
  args[#args + 1] = 'JUSTID'
  redis.pcall(unpack(args))
end
return renewed
`,
};

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
for _, id in ipairs(expired) do
  redis.call('ZREM', KEYS[1], id)
  local key = ckey(id)
  local f = redis.call('HMGET', key, 's', 'a', 'm', 'sa', 'w', 'b', 'e', 't', 'p', 'tk', 'pm')
  if f[1] == 'in_progress' then
    local attempts = tonumber(f[2])
    -- the send's max attempts, else the handler policy its claim wrote
    local limit = tonumber(f[3]) or tonumber(f[11])
    local to = (limit and attempts >= limit) and 'troubleshooting' or 'pending'
    if f[10] and f[10] ~= '' then acks[#acks + 1] = f[10] end
    redis.call('HSET', key, 's', to, 'e', err, 'r', int(now), 'u', int(now), 'tk', '')
    redis.call('HDEL', key, 'lt', 'le')
    if to == 'pending' then
      enqueue(id, f[8], f[9], now, now)
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
ack_tickets(acks)
flush_writes()
return {n, batches, reclaimed}
`,
};
