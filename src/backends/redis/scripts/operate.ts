import { PRELUDE } from './prelude.js';

/**
 * operate: an operator's retry, cancel or complete. The allowed source states come from
 * the caller (one rule table for every backend), and the action is audited with who did
 * it and why. A retried command gets a delivery ticket. (No action starts from
 * in_progress, so there is never a claim's ticket to acknowledge here.)
 *
 * KEYS[1] trouble    KEYS[2] done    KEYS[3] stream
 * ARGV[1] key base
 * ARGV[2] id, ARGV[3] target state, ARGV[4] allowed source states (comma-separated)
 * ARGV[5] actor, ARGV[6] reason, ARGV[7] result JSON ('' = none, for complete)
 * ARGV[8] new payload JSON ('' = none; a retry's edit): replaces the payload, and the
 *         audit entry's details keep the payload before and after it
 *
 * Returns {'OK', {id, fields...}}, or an error code (mapped in ../errors.ts):
 *   {'NOT_FOUND'} no such command; {'INVALID_STATE', state} the action does not apply.
 */
export const operateScript = {
  name: 'dbxOperate',
  keys: 3,
  lua: `${PRELUDE}
local id, to = ARGV[2], ARGV[3]
local key = ckey(id)
local R = named({'s', 'a', 't', 'r', 'b', 'e', 'p', 'd'})
local f = redis.call('HMGET', key, unpack(R))
local from, typ = f[R.s], f[R.t]
if not from or from == STAGED then return {'NOT_FOUND'} end
local allowed = false
for state in string.gmatch(ARGV[4], '[^,]+') do
  if state == from then allowed = true end
end
if not allowed then return {'INVALID_STATE', from} end

local now = now_ms()
if from == PENDING then dequeue(id, typ, f[R.r]) end
if from == TROUBLESHOOTING then redis.call('ZREM', KEYS[1], id) end
redis.call('HDEL', key, 'lt', 'le')
if to == PENDING then
  redis.call('HSET', key, 's', to, 'a', 0, 'r', int(now), 'u', int(now))
  enqueue(id, typ, f[R.p], now, now)
else
  redis.call('HSET', key, 's', to, 'u', int(now))
  if ARGV[7] ~= '' then redis.call('HSET', key, 'res', ARGV[7]) end
  redis.call('ZADD', KEYS[2], now, id)
end
local details = nil
if ARGV[8] ~= '' then
  redis.call('HSET', key, 'd', ARGV[8])
  -- Audit entries are one a line. A raw line break in JSON text can only be whitespace
  -- between tokens (one inside a string is escaped), so a space stands for it exactly.
  details = '{"dataBefore":' .. string.gsub(f[R.d] or 'null', '\\n', ' ') .. ',"dataAfter":'
    .. string.gsub(ARGV[8], '\\n', ' ') .. '}'
end
audit(key, now, nil, from, to, tonumber(f[R.a]), nil, ARGV[5], ARGV[6], nil, details)
moved(typ, f[R.b], from, to, f[R.e], f[R.e])
flush_writes()
local row = read_command(key)
table.insert(row, 1, id)
return {'OK', row}
`,
};
