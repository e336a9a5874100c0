import { PRELUDE } from './prelude.js';

/**
 * claim: takes up to ARGV[2] ready commands of one domain, highest priority first, then
 * oldest, and leases them to a worker under one fencing token.
 *
 * Why sorted sets and not one stream per domain: a claim must honour priorities (0 to
 * 1,000,000), filter by type, skip commands not yet due and let an operator cancel a
 * pending command; a stream gives none of these (XREADGROUP reads in arrival order,
 * cannot filter, and leaves cancelled entries behind). A ready queue per (domain, type)
 * scored by -priority, with members `runAt|id`, pops in exactly the SQL backend's order
 * (priority desc, run_at, id) in O(log n), and one script call claims a whole batch.
 * The lease lives in the command hash and a `leases` zset, which is what XAUTOCLAIM's
 * idle-time would give, but per command and renewable with a token.
 *
 * Due delayed commands (retries, snoozes, scheduled sends) are first moved to their ready
 * queue, up to 1,000 per call, in the same atomic step.
 *
 * KEYS[1] types     KEYS[2] delayed     KEYS[3] leases     KEYS[4] counts
 * ARGV[1] key base, ARGV[2] limit, ARGV[3] lease token, ARGV[4] lease ms, ARGV[5] worker id
 * ARGV[6...] the types to claim (none = every type of the domain)
 *
 * Returns {now, {id, fields...}, ...} for each claimed command (COMMAND_FIELDS order).
 */
export const claimScript = {
  name: 'dbxClaim',
  keys: 4,
  lua: `${PRELUDE}
local now = now_ms()
local limit = tonumber(ARGV[2])
local token, lease_ms, worker = ARGV[3], tonumber(ARGV[4]), ARGV[5]

local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 1000)
for _, id in ipairs(due) do
  local f = redis.call('HMGET', ckey(id), 's', 't', 'p', 'r')
  if f[1] == 'pending' then enqueue(id, f[2], f[3], f[4], now) end
end
call_many('ZREM', KEYS[2], due)

local types = {}
for i = 6, #ARGV do types[#types + 1] = ARGV[i] end
if #types == 0 then types = redis.call('SMEMBERS', KEYS[1]) end

-- members picked, in claim order
local picked = {}
if #types == 1 then
  local popped = redis.call('ZPOPMIN', base .. 'r:' .. types[1], limit)
  for i = 1, #popped, 2 do picked[#picked + 1] = popped[i] end
else
  -- merge the heads of each type's queue: the best 'limit' of (score, member)
  local candidates = {}
  for _, typ in ipairs(types) do
    local key = base .. 'r:' .. typ
    local head = redis.call('ZRANGE', key, 0, limit - 1, 'WITHSCORES')
    for i = 1, #head, 2 do
      candidates[#candidates + 1] = {tonumber(head[i + 1]), head[i], key}
    end
  end
  table.sort(candidates, function(x, y)
    if x[1] ~= y[1] then return x[1] < y[1] end
    return x[2] < y[2]
  end)
  for i = 1, math.min(limit, #candidates) do
    local c = candidates[i]
    redis.call('ZREM', c[3], c[2])
    picked[#picked + 1] = c[2]
  end
end

local out = {now}
local expires = int(now + lease_ms)
local leases = {}
for _, member in ipairs(picked) do
  local id = string.sub(member, 14)
  local key = ckey(id)
  local f = redis.call('HMGET', key, 's', 'b', 'a')
  if f[1] == 'pending' then
    redis.call('HSET', key, 's', 'in_progress', 'a', tonumber(f[3]) + 1, 'lt', token, 'le', expires, 'w', worker,
      'sa', int(now), 'u', int(now))
    leases[#leases + 1] = expires
    leases[#leases + 1] = id
    moved(f[2], 'pending', 'in_progress')
    local row = read_command(key)
    table.insert(row, 1, id)
    out[#out + 1] = row
  end
end
call_many('ZADD', KEYS[3], leases)
flush_counts()
return out
`,
};
