import { LATEST_RUN_AT } from '../../../core/send-options.js';
import { PRELUDE } from './prelude.js';

/**
 * insert: stores new commands of one domain; an id or idempotency key that exists
 * already returns the first command instead (a duplicate send is a no-op).
 *
 * A command due now gets its delivery ticket on the domain's stream in the same step.
 *
 * KEYS[1] ids      KEYS[2] idem      KEYS[3] counts      KEYS[4] stream
 * (The batch's staged commands are made visible or removed by ./staged.ts.)
 * ARGV[1] key base of the domain
 * ARGV[2] mode: 'pending' (claimable at once) or 'staged' (a batch being created: stored
 *         but invisible until the batch commits; ARGV[3] is the batch's staging list)
 * ARGV[4] the commands as one JSON array of [id, type, data, priority, maxAttempts,
 *         delayMs, runAtMs or '', correlationId, causationId, batchId, idempotencyKey,
 *         headers JSON] ('' = none). One argument rather than twelve per command: the
 *         client encodes each argument of a call apart, and for a chunk of a thousand
 *         commands that was most of the sender's work; cjson decodes the array in one C call.
 *
 * Returns {now, created, r1, r2, ...}: ri = 1 when stored, else {id, fields...} of the
 * command that existed (COMMAND_FIELDS order).
 */
export const insertScript = {
  name: 'dbxInsert',
  keys: 4,
  lua: `${PRELUDE}
local now = now_ms()
local nows = int(now)
local staged = ARGV[2] == STAGED
local state = staged and STAGED or PENDING

-- First pass, before any write: the numbers (a malformed one, or a run time outside what
-- every store holds and a Date can show, fails the call with nothing written), and one
-- EXISTS over every key instead of one per command. When none exists, which is the
-- usual case, only an id repeated within this call can be a duplicate.
local keys, runs = {}, {}
local rows = cjson.decode(ARGV[4])
for n, row in ipairs(rows) do
  local id, _, _, prio, _, delay, run_at = unpack(row)
  keys[n] = ckey(id)
  runs[n] = run_at ~= '' and tonumber(run_at) or now + tonumber(delay)
  if not runs[n] or not tonumber(prio) then error('insert: malformed priority, delay or run time for ' .. id) end
  if runs[n] < 0 or runs[n] > ${LATEST_RUN_AT.getTime()} then error('insert: run time out of range for ' .. id) end
end
local any = 0
for i = 1, #keys, 4000 do
  any = any + redis.call('EXISTS', unpack(keys, i, math.min(i + 3999, #keys)))
end

local out = {now, 0}
local created = 0
local stored = {}
local staging = {}
-- one HSET list reused for every command (type, data, priority, max attempts and run
-- time change; the optional fields follow the fixed ones): a fresh table per command grows
-- and rehashes five times
local set = named_pairs({'t', '', 's', state, 'd', '', 'p', '', 'a', '0', 'm', '', 'r', '', 'c', nows, 'u', nows})
local fixed = #set
for n = 1, #keys do
  local id, typ, data, prio, max_attempts, _, _, corr, cause, batch, ikey, hdrs = unpack(rows[n])
  local key = keys[n]
  local existing = nil
  if stored[id] or (any > 0 and redis.call('EXISTS', key) == 1) then
    existing = id
  elseif ikey ~= '' then
    local first = redis.call('HGET', KEYS[2], ikey)
    if first then existing = first end
  end
  if existing then
    local row = read_command(ckey(existing))
    table.insert(row, 1, existing)
    out[#out + 1] = row
  else
    local run = runs[n]
    set[set.t], set[set.d], set[set.p], set[set.m] = typ, data, prio, max_attempts
    set[set.r] = run == now and nows or string.format('%d', run)
    local m = fixed
    if corr ~= '' then set[m + 1] = 'co'; set[m + 2] = corr; m = m + 2 end
    if cause ~= '' then set[m + 1] = 'ca'; set[m + 2] = cause; m = m + 2 end
    if batch ~= '' then set[m + 1] = 'b'; set[m + 2] = batch; m = m + 2 end
    if ikey ~= '' then
      set[m + 1] = 'k'; set[m + 2] = ikey; m = m + 2
      redis.call('HSET', KEYS[2], ikey, id)
    end
    if hdrs and hdrs ~= '' then set[m + 1] = 'h'; set[m + 2] = hdrs; m = m + 2 end
    redis.call('HSET', key, unpack(set, 1, m))
    stored[id] = true
    if staged then
      staging[#staging + 1] = id
    else
      zadd_later(KEYS[1], '0', id)
      enqueue(id, typ, prio, run, now)
      moved(typ, batch, nil, PENDING)
    end
    created = created + 1
    out[#out + 1] = 1
  end
end
call_many('RPUSH', ARGV[3], staging)
flush_writes()
out[2] = created
return out
`,
};
