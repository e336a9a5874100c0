/**
 * The batch record: one hash per batch (`<prefix>:batch:{<id>}`), in its own slot. Its
 * commands live in their domains; these scripts only move the record through
 * staging -> open -> finished, each step conditional so a repeat is a no-op.
 *
 * Record fields: n name, oc onComplete (JSON), c created at, st stage, total, doms
 * (JSON list of the domains holding its commands), act '1' once every command is
 * claimable, f finished at, status, cc completion command id.
 */

/**
 * batchBegin: creates the record in stage 'staging'.
 * KEYS[1] batch record
 * ARGV[1] name or '', ARGV[2] onComplete JSON or ''
 * Returns the creation time (ms), or {'BATCH_EXISTS'} when the id is taken.
 */
export const batchBeginScript = {
  name: 'dbxBatchBegin',
  keys: 1,
  lua: `
if redis.call('EXISTS', KEYS[1]) == 1 then return {'BATCH_EXISTS'} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local fields = {'st', 'staging', 'c', string.format('%d', now), 'total', 0}
if ARGV[1] ~= '' then fields[#fields + 1] = 'n'; fields[#fields + 1] = ARGV[1] end
if ARGV[2] ~= '' then fields[#fields + 1] = 'oc'; fields[#fields + 1] = ARGV[2] end
redis.call('HSET', KEYS[1], unpack(fields))
return now
`,
};

/**
 * batchCommit: the commit point of a batch. Once it has run, every staged command will
 * be made claimable (rolled forward by maintenance after a crash); before, none will.
 * KEYS[1] batch record
 * ARGV[1] total, ARGV[2] domains (JSON list)
 * Returns 1 when committed now, 0 when the record is not staging (gone or committed).
 */
export const batchCommitScript = {
  name: 'dbxBatchCommit',
  keys: 1,
  lua: `
if redis.call('HGET', KEYS[1], 'st') ~= 'staging' then return 0 end
redis.call('HSET', KEYS[1], 'st', 'open', 'total', ARGV[1], 'doms', ARGV[2])
return 1
`,
};

/**
 * batchFinish: marks an open batch finished, once.
 * KEYS[1] batch record
 * ARGV[1] status, ARGV[2] completion command id or ''
 * Returns the finish time (ms) when finished now, 0 when it was not open.
 */
export const batchFinishScript = {
  name: 'dbxBatchFinish',
  keys: 1,
  lua: `
if redis.call('HGET', KEYS[1], 'st') ~= 'open' then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], 'st', 'finished', 'f', string.format('%d', now), 'status', ARGV[1])
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'cc', ARGV[2]) end
return now
`,
};
