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
for _, id in ipairs(old) do
  local key = ckey(id)
  local f = redis.call('HMGET', key, 's', 'k')
  if f[1] == 'completed' or f[1] == 'cancelled' then
    if f[2] and redis.call('HGET', KEYS[3], f[2]) == id then redis.call('HDEL', KEYS[3], f[2]) end
    redis.call('DEL', key)
    redis.call('ZREM', KEYS[2], id)
    bump(KEYS[4], f[1], -1)
    n = n + 1
  end
end
call_many('ZREM', KEYS[1], old)
flush_writes()
return n
`,
};

/**
 * list: commands of one domain in id order after ARGV[3], filtered by state, type and
 * error code, for operators. Examines at most ARGV[8] commands per call so a long scan
 * never blocks Redis; the caller continues from the returned cursor.
 *
 * KEYS[1] ids    KEYS[2] trouble (read instead of ids when listing troubleshooting)
 * ARGV[1] key base, ARGV[2] state or '', ARGV[3] after id or '', ARGV[4] type or '',
 * ARGV[5] error code or '', ARGV[6] limit, ARGV[7] scan budget
 * Returns {cursor or '', {id, fields...}, ...}: cursor '' when the domain is exhausted.
 */
export const listScript = {
  name: 'dbxList',
  keys: 2,
  lua: `${PRELUDE}
local state, after, typ, code = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local limit, budget = tonumber(ARGV[6]), tonumber(ARGV[7])
local source = state == 'troubleshooting' and KEYS[2] or KEYS[1]
local out = {''}
local cursor = after
local examined = 0
while true do
  local from = cursor == '' and '-' or '(' .. cursor
  local ids = redis.call('ZRANGE', source, from, '+', 'BYLEX', 'LIMIT', 0, 500)
  if #ids == 0 then return out end
  for _, id in ipairs(ids) do
    cursor = id
    examined = examined + 1
    local row = read_command(ckey(id))
    local ok = row[2] and row[2] ~= 'staged'
    if ok and state ~= '' and row[2] ~= state then ok = false end
    if ok and typ ~= '' and row[1] ~= typ then ok = false end
    if ok and code ~= '' then
      local e = row[19]
      ok = e and cjson.decode(e).code == code
    end
    if ok then
      table.insert(row, 1, id)
      out[#out + 1] = row
      if #out - 1 >= limit then return out end
    end
    if examined >= budget then
      out[1] = cursor
      return out
    end
  end
end
`,
};
