import { PRELUDE } from './prelude.js';

/**
 * prune: deletes completed and cancelled commands of one domain last updated before
 * ARGV[2], with their audit trail and idempotency key.
 *
 * KEYS[1] done    KEYS[2] ids    KEYS[3] idem    KEYS[4] counts
 * ARGV[1] key base, ARGV[2] cut-off age in ms, ARGV[3] limit
 * Returns the number deleted.
 */
export const pruneScript = {
  name: 'dbxPrune',
  keys: 4,
  lua: `${PRELUDE}
local cutoff = now_ms() - tonumber(ARGV[2])
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. int(cutoff), 'LIMIT', 0, tonumber(ARGV[3]))
local n = 0
local R = named({'s', 'k', 't'})
for _, id in ipairs(old) do
  local key = ckey(id)
  local f = redis.call('HMGET', key, unpack(R))
  local state, ikey = f[R.s], f[R.k]
  if state == COMPLETED or state == CANCELLED then
    if ikey and redis.call('HGET', KEYS[3], ikey) == id then redis.call('HDEL', KEYS[3], ikey) end
    redis.call('DEL', key)
    redis.call('ZREM', KEYS[2], id)
    -- the batch's counts keep it: a finished batch still reports what its commands did
    moved(f[R.t], nil, state, nil)
    n = n + 1
  end
end
call_many('ZREM', KEYS[1], old)
flush_writes()
return n
`,
};
