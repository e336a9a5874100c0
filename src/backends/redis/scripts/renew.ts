import { PRELUDE } from './prelude.js';

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
local R = named({'s', 'lt', 'tk', 'w'})
for i = 3, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local key = ckey(id)
  local f = redis.call('HMGET', key, unpack(R))
  if f[R.s] == IN_PROGRESS and f[R.lt] == token then
    redis.call('HSET', key, 'le', int(expires))
    redis.call('ZADD', KEYS[1], expires, id)
    renewed[#renewed + 1] = id
    local ticket, holder = f[R.tk], f[R.w]
    if ticket and ticket ~= '' then
      local list = tickets[holder]
      if not list then list = {}; tickets[holder] = list end
      list[#list + 1] = ticket
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
