import { PRELUDE } from './prelude.js';

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
local source = state == TROUBLESHOOTING and KEYS[2] or KEYS[1]
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
    local row_state = row[FIELDS.s]
    local ok = row_state and row_state ~= STAGED
    if ok and state ~= '' and row_state ~= state then ok = false end
    if ok and typ ~= '' and row[FIELDS.t] ~= typ then ok = false end
    if ok and code ~= '' then
      local e = row[FIELDS.e]
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
