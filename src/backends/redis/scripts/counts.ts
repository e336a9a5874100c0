import { PRELUDE } from './prelude.js';

/**
 * rebuildCounts: recounts one domain's `counts` hash (per type and state) from its
 * commands, in one atomic step, so the result is exact even while workers run. Used once,
 * by the layout step that introduced per-type counts (version 1 kept counts per state
 * only); safe to repeat, since it starts from nothing each time. It reads every visible
 * command of the domain (`ids`; staged commands are not counted), so it holds Redis for
 * a few seconds per million commands (0.6 s for 200,000 on a busy two-core machine).
 *
 * KEYS[1] ids      KEYS[2] counts
 * ARGV[1] key base
 * Returns the number of commands counted.
 */
export const rebuildCountsScript = {
  name: 'dbxRebuildCounts',
  keys: 2,
  lua: `${PRELUDE}
redis.call('DEL', KEYS[2])
local R = named({'s', 't'})
local counted = 0
local from = '-'
while true do
  local ids = redis.call('ZRANGE', KEYS[1], from, '+', 'BYLEX', 'LIMIT', 0, 1000)
  if #ids == 0 then break end
  for _, id in ipairs(ids) do
    local f = redis.call('HMGET', ckey(id), unpack(R))
    local state = f[R.s]
    if state and state ~= STAGED then
      moved(f[R.t], nil, nil, state)
      counted = counted + 1
    end
  end
  from = '(' .. ids[#ids]
end
flush_writes()
return counted
`,
};
