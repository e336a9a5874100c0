import { PRELUDE } from './prelude.js';

/**
 * oldestPending: the earliest run time among one domain's pending commands that are due,
 * for the lag an operator watches (AdminQueries.oldestPending). Read-only.
 *
 * A due command waits in its type's ready queue (score -priority, member `runAt|id`), or
 * still in the delayed set when no claim has moved it since it came due. A ready queue
 * orders run times within one priority, so each type's queue is read a priority at a
 * time: its first member, then the first member of the next score, each O(log n). The
 * delayed set's first member at or before now is one more. So the cost is a few lookups
 * per (type, priority), whatever the depth of the queue.
 *
 * KEYS[1] types     KEYS[2] delayed
 * ARGV[1] key base
 * Returns the earliest run time (ms, as text), or '' when nothing is due.
 */
export const oldestPendingScript = {
  name: 'dbxOldestPending',
  keys: 2,
  lua: `${PRELUDE}
local oldest = nil
local function seen(run)
  if run and (not oldest or run < oldest) then oldest = run end
end
for _, typ in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = ready_queue(typ)
  local head = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  while #head > 0 do
    seen(tonumber(string.sub(head[1], 1, 13)))
    head = redis.call('ZRANGE', key, '(' .. head[2], '+inf', 'BYSCORE', 'LIMIT', 0, 1, 'WITHSCORES')
  end
end
local due = redis.call('ZRANGE', KEYS[2], '-inf', now_ms(), 'BYSCORE', 'LIMIT', 0, 1, 'WITHSCORES')
if #due > 0 then seen(tonumber(due[2])) end
if not oldest then return '' end
return int(oldest)
`,
};
