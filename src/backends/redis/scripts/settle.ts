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
local OUTCOMES = {complete = COMPLETED, retry = 'retry', troubleshoot = TROUBLESHOOTING,
  release = 'released'}
local stale, batches, seen = {}, {}, {}
local ended, done, trouble, acks = {}, {}, {}, {}
-- one HSET list for every settlement: the lease fields are blanked rather than deleted,
-- so one HSET does the whole transition; the state and the audit trail change, and what
-- the outcome writes follows the fixed fields
local set = named_pairs({'lt', '', 'le', '', 'tk', '', 'u', nows, 's', '', 'au', ''})
local fixed = #set
local R = named({'s', 'lt', 'a', 'sa', 'w', 'b', 'e', 't', 'p', 'au', 'tk'})
local packed = ARGV[2]
local record = '^([^\\31]*)\\31([^\\31]*)\\31([^\\31]*)\\31([^\\31]*)\\31([^\\31]*)\\31([^\\31]*)\\31([^\\30]*)\\30()'
local pos = 1
while pos <= #packed do
  local id, token, tried, kind, json, delay, reason, after = string.match(packed, record, pos)
  if not id then return redis.error_reply('ERR settle: malformed settlement at byte ' .. pos) end
  pos = after
  delay = tonumber(delay)
  local key = ckey(id)
  local f = redis.call('HMGET', key, unpack(R))
  local state, batch, err_before = f[R.s], f[R.b], f[R.e]
  if state == IN_PROGRESS and f[R.lt] == token then
    -- numbers stay text where they can: a Lua number given to redis.call or joined into a
    -- string is printed with sprintf, which costs more than the write it is part of
    local attempt = f[R.a]
    local err, to = err_before, nil
    local m = fixed
    ended[#ended + 1] = id
    if f[R.tk] and f[R.tk] ~= '' then acks[#acks + 1] = f[R.tk] end
    if kind == 'complete' then
      to, reason = COMPLETED, 'succeeded'
      if json ~= '' then set[m + 1] = 'res'; set[m + 2] = json; m = m + 2 end
      done[#done + 1] = nows
      done[#done + 1] = id
    elseif kind == 'troubleshoot' then
      to, reason, err = TROUBLESHOOTING, 'failed; needs an operator', json
      set[m + 1] = 'e'; set[m + 2] = err; m = m + 2
      trouble[#trouble + 1] = '0'
      trouble[#trouble + 1] = id
    else
      to = PENDING
      local run = now + delay
      set[m + 1] = 'r'; set[m + 2] = int(run); m = m + 2
      if kind == 'retry' then
        reason, err = 'failed; will retry', json
        set[m + 1] = 'e'; set[m + 2] = err; m = m + 2
      else
        set[m + 1] = 'a'; set[m + 2] = int(tonumber(attempt) - 1); m = m + 2
      end
      enqueue(id, f[R.t], f[R.p], run, now)
    end
    set[set.s] = to
    set[set.au] = audit_trail(f[R.au], nows, f[R.sa], IN_PROGRESS, to, attempt, f[R.w], nil, reason,
      (kind == 'retry' or kind == 'troubleshoot') and json or nil)
    redis.call('HSET', key, unpack(set, 1, m))
    moved(f[R.t], batch, IN_PROGRESS, to, err_before, err)
    if batch and to ~= PENDING and not seen[batch] then
      seen[batch] = true
      batches[#batches + 1] = batch
    end
  else
    stale[#stale + 1] = id
    -- the state is false when the command is gone (pruned): nothing to record it on
    if state then
      local why, detail
      if state ~= IN_PROGRESS then
        why, detail = 'not in progress', 'the command is ' .. state .. ' now'
      else
        why = 'stale token'
        detail = 'attempt ' .. (f[R.a] or '?') .. ' holds the command now (worker ' .. (f[R.w] or '') .. ')'
      end
      -- an attempt the caller left out is recorded as 0 rather than break the trail's JSON
      if not string.match(tried, '^%d+$') then tried = '0' end
      local outcome = OUTCOMES[kind] or kind
      local tried_err = (kind == 'retry' or kind == 'troubleshoot') and json or nil
      local refusal = '{"code":"LATE_OUTCOME_REFUSED","message":'
        .. cjson.encode(outcome .. ' of attempt ' .. tried .. ' refused: ' .. detail)
        .. ',"details":{"outcome":' .. js(outcome)
        .. (tried_err and (',"error":' .. tried_err) or '') .. '}}'
      redis.call('HSET', key, 'au', audit_trail(f[R.au], nows, nil, state, state, tried, worker, nil,
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
