import { PRELUDE } from './prelude.js';

/*
 * The commands of a batch being created are stored 'staged' by insert (./insert.ts):
 * invisible and uncounted. Once the batch commits they are made claimable (activate);
 * if its creation fails they are removed (unstage).
 */

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
local R = named({'s', 't', 'p', 'r', 'b'})
local n = 0
for _, id in ipairs(ids) do
  local key = ckey(id)
  local f = redis.call('HMGET', key, unpack(R))
  if f[R.s] == STAGED then
    redis.call('HSET', key, 's', PENDING, 'u', int(now))
    zadd_later(KEYS[1], '0', id)
    enqueue(id, f[R.t], f[R.p], f[R.r], now)
    moved(f[R.t], f[R.b], nil, PENDING)
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
local R = named({'s', 'k'})
local n = 0
for _, id in ipairs(ids) do
  local key = ckey(id)
  local f = redis.call('HMGET', key, unpack(R))
  if f[R.s] == STAGED then
    local ikey = f[R.k]
    if ikey and redis.call('HGET', KEYS[1], ikey) == id then redis.call('HDEL', KEYS[1], ikey) end
    redis.call('DEL', key)
    n = n + 1
  end
end
return n
`,
};
