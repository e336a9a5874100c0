import { COMMAND_STATES } from '../../../core/states.js';
import { COMMAND_FIELDS, COUNT_SEPARATOR, STAGED_STATE, TICKET_GROUP } from '../keys.js';

/** A list of names as Lua table items: 'a', 'b'. */
export const luaList = (names: readonly string[]): string => names.map((n) => `'${n}'`).join(', ');

/** The separator of a count field's type and state, as a Lua string escape. */
const COUNT_SEPARATOR_LUA = `\\${COUNT_SEPARATOR.charCodeAt(0)}`;

/** The states as Lua constants (PENDING = 'pending', ...), so no script spells one out. */
const STATE_CONSTANTS = [...COMMAND_STATES, STAGED_STATE]
  .map((state) => `local ${state.toUpperCase()} = '${state}'`)
  .join('\n');

/**
 * Lua shared by every script, prepended to each (Redis scripts cannot import). Keys of
 * one command are built from ARGV[1], the domain's key base (`<prefix>:{<domain>}:`),
 * so every key a script touches shares the domain's hash tag.
 *
 * Conventions: times are milliseconds from the Redis server clock (TIME), so all workers
 * agree; JSON values (data, result, error) travel as text and are stored untouched.
 * Hash fields are read and written by name: a field list made by `named` (reads) or
 * `named_pairs` (an HSET argument list) also maps each name to its position, resolved
 * once per script, so `f[R.s]` costs what `f[1]` did and survives a reordered list.
 */
export const PRELUDE = `
${STATE_CONSTANTS}

-- A list of hash field names that also maps each name to its position (for HMGET: the
-- reply's item of field 's' is f[list.s]). Only the array part goes to unpack.
local function named(list)
  for i, name in ipairs(list) do list[name] = i end
  return list
end
-- An HSET argument list (name, value, ...) that maps each name to its value's position,
-- so a reused list is changed by name: args[args.s] = PENDING.
local function named_pairs(list)
  for i = 1, #list, 2 do list[list[i]] = i + 1 end
  return list
end

local FIELDS = named({${luaList(COMMAND_FIELDS)}})
local base = ARGV[1]
local STREAM = base .. 'stream'
local GROUP = '${TICKET_GROUP}'

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Numbers written to Redis as plain integers (Redis would print 1.7e+12 for a round one).
local function int(x) return string.format('%d', x) end

-- Runs a variadic command (ZADD, ZREM) over a long argument list in slices, since Lua's
-- unpack is limited to a few thousand values.
local function call_many(cmd, key, list)
  for i = 1, #list, 4000 do
    redis.call(cmd, key, unpack(list, i, math.min(i + 3999, #list)))
  end
end

local function ckey(id) return base .. 'c:' .. id end

-- JSON text of a string or nil; the few distinct values of a script (states, reasons,
-- worker ids) are encoded once.
local js_memo = {}
local function js(v)
  if v == nil or v == false or v == '' then return 'null' end
  local text = js_memo[v]
  if not text then
    text = cjson.encode(v)
    js_memo[v] = text
  end
  return text
end

-- The member of a ready queue: run time then id, so equal priorities run oldest first.
-- The formatted run time is kept between calls: commands written together mostly share it.
local member_run, member_prefix = nil, nil
local function ready_member(run, id)
  if run ~= member_run then
    member_run = run
    member_prefix = string.format('%013d', tonumber(run))
  end
  return member_prefix .. id
end

-- A ready queue's score, -priority, made from the priority's text: a Lua number passed to
-- redis.call is printed with '%.17g', which costs more than the sorted-set insert.
local scores = {}
local function ready_score(prio)
  local score = scores[prio]
  if not score then
    if string.byte(prio, 1) == 45 then score = string.sub(prio, 2) else score = '-' .. prio end
    scores[prio] = score
  end
  return score
end

-- The ready queue of a type (names built once per script, not once per command).
local queues = {}
local function ready_queue(typ)
  local key = queues[typ]
  if not key then
    key = base .. 'r:' .. typ
    queues[typ] = key
  end
  return key
end

-- Acknowledges delivery tickets (stream entry ids), in slices.
local function ack_tickets(list)
  for i = 1, #list, 4000 do
    redis.call('XACK', STREAM, GROUP, unpack(list, i, math.min(i + 3999, #list)))
  end
end

-- Sorted-set additions collected per key and written by flush_writes, one ZADD per key
-- (in slices) instead of one per command: each redis.call converts its arguments and its
-- reply on top of running the command. Only additions are deferred, and no script reads
-- or removes a member it added before flushing, so the result is the same as adding at once.
local zadds = {}
local function zadd_later(key, score, member)
  local list = zadds[key]
  if not list then list = {}; zadds[key] = list end
  list[#list + 1] = score
  list[#list + 1] = member
end
local function flush_zadds()
  for key, list in pairs(zadds) do call_many('ZADD', key, list) end
  zadds = {}
end

-- Puts a pending command where a claim finds it: the ready queue of its type when due,
-- else the delayed set. Remembers the type so a claim of every type knows where to look.
-- A command that becomes ready gets one delivery ticket on the domain's stream, in the
-- same atomic step (see ../tickets.ts for what tickets are and are not).
local known_types = {}
local function enqueue(id, typ, prio, run, now)
  if tonumber(run) > now then
    zadd_later(base .. 'delayed', int(run), id)
  else
    zadd_later(ready_queue(typ), ready_score(prio), ready_member(run, id))
    redis.call('XADD', STREAM, '*', 'id', id)
    if not known_types[typ] then
      known_types[typ] = true
      redis.call('SADD', base .. 'types', typ)
    end
  end
end

local DUE = named({'s', 't', 'p', 'r'})
-- Moves up to 1,000 due commands from the delayed set (the schedule) to their ready
-- queues, each with its ticket.
local function promote_due(now)
  local due = redis.call('ZRANGEBYSCORE', base .. 'delayed', '-inf', now, 'LIMIT', 0, 1000)
  for _, id in ipairs(due) do
    local f = redis.call('HMGET', ckey(id), unpack(DUE))
    if f[DUE.s] == PENDING then enqueue(id, f[DUE.t], f[DUE.p], f[DUE.r], now) end
  end
  call_many('ZREM', base .. 'delayed', due)
  flush_zadds()
  return #due
end

-- Takes a pending command out of whichever queue holds it.
local function dequeue(id, typ, run)
  redis.call('ZREM', base .. 'delayed', id)
  redis.call('ZREM', base .. 'r:' .. typ, ready_member(run, id))
end

-- One audit entry: [at, startedAt, from, to, attempt, worker, actor, reason, error], and
-- details (JSON: what the transition changed besides the state) when there are any.
-- An attempt is one entry (started ... ended); the claim itself is derived on read.
-- audit_trail returns the trail with the entry appended (for a caller that read 'au'
-- already and writes it with its own HSET); audit appends it itself.
local function audit_trail(prev, at, started, from, to, attempt, worker, actor, reason, err, details)
  local entry = '[' .. at .. ',' .. ((started and started ~= '') and started or 'null') .. ',' .. js(from) .. ','
    .. js(to) .. ',' .. attempt .. ',' .. js(worker) .. ',' .. js(actor) .. ',' .. js(reason) .. ',' .. (err or 'null')
    .. (details and (',' .. details) or '') .. ']'
  if prev then return prev .. '\\n' .. entry end
  return entry
end
local function audit(key, at, started, from, to, attempt, worker, actor, reason, err, details)
  local trail = audit_trail(redis.call('HGET', key, 'au'), at, started, from, to, attempt, worker, actor, reason, err, details)
  redis.call('HSET', key, 'au', trail)
end

-- Counters (see COUNTS below and the batch's bc:<batch>), summed in memory and written
-- once per script by flush_writes, which also writes the deferred sorted-set additions.
-- A field brought to zero is deleted, so a counter hash holds only live counts and does
-- not grow with every type that ever existed.
local deltas = {}
local function bump(key, field, n)
  local t = deltas[key]
  if not t then t = {}; deltas[key] = t end
  t[field] = (t[field] or 0) + n
end
local function flush_writes()
  flush_zadds()
  for key, t in pairs(deltas) do
    for field, n in pairs(t) do
      if n ~= 0 and redis.call('HINCRBY', key, field, n) == 0 then redis.call('HDEL', key, field) end
    end
  end
  deltas = {}
end
local function is_failed(state, err)
  return (err and err ~= '') and (state == PENDING or state == IN_PROGRESS or state == TROUBLESHOOTING) or false
end
-- The domain's counts: one field per type and state, '<type>${COUNT_SEPARATOR_LUA}<state>' -> number of
-- commands, changed in the same script as every transition (so exact, and read without a
-- scan). Field names are made once per script.
local COUNTS = base .. 'counts'
local count_fields = {}
local function count_field(typ, state)
  local of_type = count_fields[typ]
  if not of_type then of_type = {}; count_fields[typ] = of_type end
  local field = of_type[state]
  if not field then
    field = typ .. '${COUNT_SEPARATOR_LUA}' .. state
    of_type[state] = field
  end
  return field
end
-- Records that a command of a type went from one state to another (from = nil for a new
-- one, to = nil for one deleted). A batch's counter key is built once per script: its
-- commands come in runs.
local batch_keys = {}
local function moved(typ, batch, from, to, err_before, err_after)
  if from then bump(COUNTS, count_field(typ, from), -1) end
  if to then bump(COUNTS, count_field(typ, to), 1) end
  if batch and batch ~= '' then
    local bk = batch_keys[batch]
    if not bk then
      bk = base .. 'bc:' .. batch
      batch_keys[batch] = bk
    end
    if from then bump(bk, from, -1) end
    if to then bump(bk, to, 1) end
    local fb, fa = is_failed(from, err_before), is_failed(to, err_after)
    if fb ~= fa then bump(bk, 'failed', fa and 1 or -1) end
  end
end

local function read_command(key) return redis.call('HMGET', key, unpack(FIELDS)) end
`;
