import { PRELUDE } from './prelude.js';

/**
 * list: commands of one domain in id order after the cursor ARGV[3] (ascending, or
 * descending when ARGV[8] is 'desc'), filtered, for operators. Examines at most ARGV[7]
 * commands per call so a long scan never blocks Redis; the caller continues from the
 * returned cursor.
 *
 * KEYS[1] ids    KEYS[2] trouble (read instead of ids when listing troubleshooting)
 * ARGV[1] key base, ARGV[2] state or '', ARGV[3] cursor (exclusive) or '', ARGV[4] type
 * or '', ARGV[5] error code or '', ARGV[6] limit, ARGV[7] scan budget, ARGV[8] 'asc' or
 * 'desc', ARGV[9] batch id or '', ARGV[10] correlation id or '', ARGV[11] causation id or
 * '', ARGV[12] created at or after (ms) or '', ARGV[13] created before (ms) or '',
 * ARGV[14] text the payload's JSON text contains, lower-cased, or ''
 * Returns {cursor or '', {id, fields...}, ...}: cursor '' when the domain is exhausted.
 *
 * The payload text is compared lower-cased with string.find's plain search: no pattern
 * characters, and ASCII letters only are folded (Lua's string.lower).
 */
export const listScript = {
  name: 'dbxList',
  keys: 2,
  lua: `${PRELUDE}
local state, after, typ, code = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local limit, budget = tonumber(ARGV[6]), tonumber(ARGV[7])
local desc = ARGV[8] == 'desc'
local batch, correlation, causation = ARGV[9], ARGV[10], ARGV[11]
local created_from, created_to = tonumber(ARGV[12]), tonumber(ARGV[13])
local text = ARGV[14]
local source = state == TROUBLESHOOTING and KEYS[2] or KEYS[1]
local out = {''}
local cursor = after
local examined = 0

local function matches(row)
  local row_state = row[FIELDS.s]
  if not row_state or row_state == STAGED then return false end
  if state ~= '' and row_state ~= state then return false end
  if typ ~= '' and row[FIELDS.t] ~= typ then return false end
  if batch ~= '' and row[FIELDS.b] ~= batch then return false end
  if correlation ~= '' and row[FIELDS.co] ~= correlation then return false end
  if causation ~= '' and row[FIELDS.ca] ~= causation then return false end
  if created_from or created_to then
    local created = tonumber(row[FIELDS.c])
    if created_from and created < created_from then return false end
    if created_to and created >= created_to then return false end
  end
  if code ~= '' then
    local e = row[FIELDS.e]
    if not e or cjson.decode(e).code ~= code then return false end
  end
  if text ~= '' then
    local d = row[FIELDS.d]
    if not d or not string.find(string.lower(d), text, 1, true) then return false end
  end
  return true
end

while true do
  local ids
  if desc then
    local from = cursor == '' and '+' or '(' .. cursor
    ids = redis.call('ZRANGE', source, from, '-', 'BYLEX', 'REV', 'LIMIT', 0, 500)
  else
    local from = cursor == '' and '-' or '(' .. cursor
    ids = redis.call('ZRANGE', source, from, '+', 'BYLEX', 'LIMIT', 0, 500)
  end
  if #ids == 0 then return out end
  for _, id in ipairs(ids) do
    cursor = id
    examined = examined + 1
    local row = read_command(ckey(id))
    if matches(row) then
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
