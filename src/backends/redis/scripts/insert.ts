import { LATEST_RUN_AT } from '../../../core/send-options.js';
import { PRELUDE } from './prelude.js';

/**
 * insert: stores new commands of one domain; an id or idempotency key that exists
 * already returns the first command instead (a duplicate send is a no-op).
 *
 * A command due now gets its delivery ticket on the domain's stream in the same step.
 *
 * KEYS[1] ids      KEYS[2] idem      KEYS[3] counts      KEYS[4] stream
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
local staged = ARGV[2] == 'staged'
local state = staged and 'staged' or 'pending'

-- First pass, before any write: the numbers (a malformed one, or a run time outside what
-- every store holds and a Date can show, fails the call with nothing written), and one
-- EXISTS over every key instead of one per command. When none exists, which is the
-- usual case, only an id repeated within this call can be a duplicate.
local keys, runs = {}, {}
local rows = cjson.decode(ARGV[4])
for n, row in ipairs(rows) do
  keys[n] = ckey(row[1])
  local run_at = row[7]
  runs[n] = run_at ~= '' and tonumber(run_at) or now + tonumber(row[6])
  if not runs[n] or not tonumber(row[4]) then error('insert: malformed priority, delay or run time for ' .. row[1]) end
  if runs[n] < 0 or runs[n] > ${LATEST_RUN_AT.getTime()} then error('insert: run time out of range for ' .. row[1]) end
end
local any = 0
for i = 1, #keys, 4000 do
  any = any + redis.call('EXISTS', unpack(keys, i, math.min(i + 3999, #keys)))
end

local out = {now, 0}
local created = 0
local stored = {}
local staging = {}
-- one field list reused for every command (fields 2, 6, 8, 12, 14 change; the optional
-- ones follow from 19): a fresh table per command grows and rehashes five times
local fields = {'t', '', 's', state, 'd', '', 'p', '', 'a', '0', 'm', '', 'r', '', 'c', nows, 'u', nows}
for n = 1, #keys do
  local row = rows[n]
  local id, typ, prio = row[1], row[2], row[4]
  local corr, cause, batch, ikey = row[8], row[9], row[10], row[11]
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
    fields[2], fields[6], fields[8], fields[12] = typ, row[3], prio, row[5]
    fields[14] = run == now and nows or string.format('%d', run)
    local m = 18
    if corr ~= '' then fields[m + 1] = 'co'; fields[m + 2] = corr; m = m + 2 end
    if cause ~= '' then fields[m + 1] = 'ca'; fields[m + 2] = cause; m = m + 2 end
    if batch ~= '' then fields[m + 1] = 'b'; fields[m + 2] = batch; m = m + 2 end
    if ikey ~= '' then
      fields[m + 1] = 'k'; fields[m + 2] = ikey; m = m + 2
      redis.call('HSET', KEYS[2], ikey, id)
    end
    local headers = row[12]
    if headers and headers ~= '' then fields[m + 1] = 'h'; fields[m + 2] = headers; m = m + 2 end
    redis.call('HSET', key, unpack(fields, 1, m))
    stored[id] = true
    if staged then
      staging[#staging + 1] = id
    else
      zadd_later(KEYS[1], '0', id)
      enqueue(id, typ, prio, run, now)
      moved(batch, nil, 'pending')
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

/**
 * activate: makes up to ARGV[2] staged commands of a committed batch claimable. Called
 * until it returns 0; safe to repeat (a crash mid-way is rolled forward by maintenance).
 * Each command due now gets its ticket.
 *
 * KEYS[1] ids      KEYS[2] counts      KEYS[3] the batch's staging list      KEYS[4] stream
 * ARGV[1] key base, ARGV[2] how many per call
 * Returns the number of commands made claimable.
 */
export const activateScript = {
  name: 'dbxActivate',
  keys: 4,
  lua: `${PRELUDE}
local now = now_ms()
local ids = redis.call('LPOP', KEYS[3], tonumber(ARGV[2]))
if not ids then return 0 end
local n = 0
for _, id in ipairs(ids) do
  local key = ckey(id)
  local f = redis.call('HMGET', key, 's', 't', 'p', 'r', 'b')
  if f[1] == 'staged' then
    redis.call('HSET', key, 's', 'pending', 'u', int(now))
    zadd_later(KEYS[1], '0', id)
    enqueue(id, f[2], f[3], f[4], now)
    moved(f[5], nil, 'pending')
    n = n + 1
  end
end
flush_writes()
return n
`,
};

/**
 * unstage: removes up to ARGV[2] staged commands of a batch that failed to be created
 * (with their idempotency keys). Called until it returns 0.
 *
 * KEYS[1] idem      KEYS[2] the batch's staging list
 * ARGV[1] key base, ARGV[2] how many per call
 * Returns the number removed.
 */
export const unstageScript = {
  name: 'dbxUnstage',
  keys: 2,
  lua: `${PRELUDE}
local ids = redis.call('LPOP', KEYS[2], tonumber(ARGV[2]))
if not ids then return 0 end
local n = 0
for _, id in ipairs(ids) do
  local key = ckey(id)
  local f = redis.call('HMGET', key, 's', 'k')
  if f[1] == 'staged' then
    if f[2] and redis.call('HGET', KEYS[1], f[2]) == id then redis.call('HDEL', KEYS[1], f[2]) end
    redis.call('DEL', key)
    n = n + 1
  end
end
return n
`,
};
