import { CLAIM_FIELDS } from '../keys.js';
import { luaList, PRELUDE } from './prelude.js';

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
 * The lease lives in the command hash and a `leases` zset: per command, renewable and
 * fenced by a token, which a stream entry's idle time is not; that idle time only tells
 * recover (recover.ts) which tickets a dead consumer left behind.
 *
 * Streams carry the wake-ups and the bookkeeping of deliveries, not the order: each
 * command that becomes ready puts one ticket on the domain's stream. A claim reads up to
 * `limit` tickets for its worker (the consumer) with a non-blocking XREADGROUP, plus the
 * ones the worker's blocking reader already took (ARGV), pops up to `limit` commands by
 * priority whatever the tickets say, and pins one ticket on each command it claimed
 * (field `tk`); the settle of that command acknowledges it. Tickets left over (their
 * command was cancelled, or claimed by a claim that had no ticket for it) are acknowledged
 * at once. So tickets can never hold back a ready command, and a lost ticket only delays
 * a wake-up until the next poll.
 *
 * Due delayed commands (retries, snoozes, scheduled sends) are first moved to their ready
 * queue with their tickets, up to 1,000 per call, in the same atomic step. The consumer
 * group is created here too when it is missing (keys deleted under a running worker).
 *
 * Each claimed command also gets `pm`, the max attempts its type's handler allows in the
 * claiming worker, which applies when the send named none (`m` is ''): recover reads it
 * when the lease expires.
 *
 * KEYS[1] types     KEYS[2] delayed     KEYS[3] leases     KEYS[4] counts
 * KEYS[5] stream    KEYS[6] maxlease
 * ARGV[1] key base, ARGV[2] limit, ARGV[3] lease token, ARGV[4] lease ms, ARGV[5] worker id
 * ARGV[6] the handlers' max attempts by type, as a JSON object, or '' for none
 * ARGV[7] the max attempts of every other type
 * ARGV[8] n, the number of tickets already read for this worker, ARGV[9 .. 8+n] their ids
 * ARGV[9+n ...] the types to claim (none = every type of the domain)
 *
 * Returns {now, row, ...}: per claimed command, its CLAIM_FIELDS with the state's place
 * taken by its id, the attempt already counted and the max attempts resolved (the send's,
 * else the handler's) (see toClaimed in ../records.ts).
 */
export const claimScript = {
  name: 'dbxClaim',
  keys: 6,
  lua: `${PRELUDE}
local now = now_ms()
local limit = tonumber(ARGV[2])
local token, lease_ms, worker = ARGV[3], tonumber(ARGV[4]), ARGV[5]
local fallback_limit = ARGV[7]
local limits = {}
if ARGV[6] ~= '' then
  for typ, n in pairs(cjson.decode(ARGV[6])) do limits[typ] = string.format('%d', n) end
end
local held = tonumber(ARGV[8])

promote_due(now)

-- the longest lease lately (kept for ten leases): how long a ticket may idle before its
-- consumer counts as dead
if lease_ms > tonumber(redis.call('GET', KEYS[6]) or 0) then
  redis.call('SET', KEYS[6], lease_ms, 'PX', lease_ms * 10)
end

local tickets = {}
for i = 9, 8 + held do tickets[#tickets + 1] = ARGV[i] end
local want = limit - #tickets
if want > 0 then
  local read = redis.pcall('XREADGROUP', 'GROUP', GROUP, worker, 'COUNT', want, 'STREAMS', KEYS[5], '>')
  if type(read) == 'table' and read.err then
    if not string.find(read.err, 'NOGROUP', 1, true) then error(read.err) end
    redis.call('XGROUP', 'CREATE', KEYS[5], GROUP, '0', 'MKSTREAM')
    read = redis.call('XREADGROUP', 'GROUP', GROUP, worker, 'COUNT', want, 'STREAMS', KEYS[5], '>')
  end
  if read then
    for _, entry in ipairs(read[1][2]) do tickets[#tickets + 1] = entry[1] end
  end
end

local types = {}
for i = 9 + held, #ARGV do types[#types + 1] = ARGV[i] end
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
local nows = int(now)
local leases = {}
local pinned = 0
-- one HSET list for every command (the attempt, the ticket and the handler's max
-- attempts change)
local set = named_pairs({'s', IN_PROGRESS, 'a', '', 'lt', token, 'le', expires, 'w', worker, 'sa', nows, 'u', nows, 'tk', '', 'pm', ''})
-- read once: the state to check, and what the worker gets (CLAIM_FIELDS); the fields
-- this claim writes are known to the caller and not read back
local R = named({${luaList(CLAIM_FIELDS)}})
local attempts = {}
for _, member in ipairs(picked) do
  local id = string.sub(member, 14)
  local key = ckey(id)
  local f = redis.call('HMGET', key, unpack(R))
  if f[R.s] == PENDING then
    local ticket = tickets[pinned + 1]
    if ticket then pinned = pinned + 1 end
    -- the attempt as text, made once per distinct value (a Lua number given to
    -- redis.call is printed with '%.17g', which costs more than the HSET field)
    local a = f[R.a] or '0'
    local attempt = attempts[a]
    if not attempt then
      attempt = string.format('%d', tonumber(a) + 1)
      attempts[a] = attempt
    end
    local typ = f[R.t]
    local policy = limits[typ] or fallback_limit
    set[set.a], set[set.tk], set[set.pm] = attempt, ticket or '', policy
    redis.call('HSET', key, unpack(set))
    leases[#leases + 1] = expires
    leases[#leases + 1] = id
    moved(typ, f[R.b], PENDING, IN_PROGRESS)
    -- the reply row: the id in the state's place (see toClaimed)
    f[R.s], f[R.a] = id, attempt
    if not f[R.m] or f[R.m] == '' then f[R.m] = policy end
    out[#out + 1] = f
  end
end
call_many('ZADD', KEYS[3], leases)
local surplus = {}
for i = pinned + 1, #tickets do surplus[#surplus + 1] = tickets[i] end
ack_tickets(surplus)
flush_writes()
return out
`,
};
