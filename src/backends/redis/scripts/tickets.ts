import { TICKET_GROUP } from '../keys.js';

/**
 * trimTickets: retention of one domain's ticket stream. Tickets older than the oldest one
 * still pending (read, not acknowledged) have been acknowledged and are history; when
 * nothing is pending, everything before the last delivered ticket is. Those go with
 * XTRIM MINID, approximately (whole stream nodes, so each call stays short) and at most
 * ARGV[1] per call: the caller repeats while a call trims that many. Tickets not yet
 * delivered are never trimmed, unless the stream holds more than ARGV[2] of them (nobody
 * reads this domain): then the oldest go, which costs only wake-ups, never a command
 * (claims pop the ready queues whatever the tickets say).
 *
 * Consumers (one per worker id) with nothing pending, idle longer than ARGV[3] ms, are
 * removed from the group, so the group does not grow with every worker ever started.
 *
 * KEYS[1] stream
 * ARGV[1] most entries trimmed per call, ARGV[2] cap on the stream's length,
 * ARGV[3] idle ms after which an empty consumer is forgotten
 * Returns {entries trimmed, consumers forgotten}.
 */
export const trimTicketsScript = {
  name: 'dbxTrimTickets',
  keys: 1,
  lua: `
local GROUP = '${TICKET_GROUP}'
if redis.call('EXISTS', KEYS[1]) == 0 then return {0, 0} end
local per_call, cap, forget_after = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])

-- XINFO replies are flat lists of name, value pairs
local function record(list)
  local r = {}
  for i = 1, #list, 2 do r[list[i]] = list[i + 1] end
  return r
end

local last = nil
for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local info = record(g)
  if info['name'] == GROUP then last = info['last-delivered-id'] end
end

local trimmed, forgotten = 0, 0
if last then
  local summary = redis.call('XPENDING', KEYS[1], GROUP)
  local minid = summary[1] > 0 and summary[2] or last
  trimmed = redis.call('XTRIM', KEYS[1], 'MINID', '~', minid, 'LIMIT', per_call)
  for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], GROUP)) do
    local info = record(c)
    if info['pending'] == 0 and info['idle'] > forget_after then
      redis.call('XGROUP', 'DELCONSUMER', KEYS[1], GROUP, info['name'])
      forgotten = forgotten + 1
    end
  end
end
if redis.call('XLEN', KEYS[1]) > cap then
  trimmed = trimmed + redis.call('XTRIM', KEYS[1], 'MAXLEN', '~', cap, 'LIMIT', per_call)
end
return {trimmed, forgotten}
`,
};
