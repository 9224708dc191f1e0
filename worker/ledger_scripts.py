"""Lua scripts behind every ledger transition. Each runs atomically in Redis, so two
workers can never both claim a chunk, and the per-campaign counters (submitted, failed)
move in the same step as the chunk: exactly one transition sees the campaign complete.

Keys: the campaign hash  {prefix}:campaign:{id}  (meta JSON, chunks, submitted, failed,
indices, completed_at, enqueued) and one hash per chunk  {prefix}:campaign:{id}:chunk:{index}
(index, task_name, count, state, key_id, attempts, transient_failures, error,
first_attempt_at, updated_at, delivered_at, lease_until, lease_token).
Times are epoch seconds from Redis TIME, returned as strings (Lua numbers reach the client
truncated to integers)."""

# Shared helpers, prepended to each script.
_PRELUDE = """
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function fmt(x) return string.format('%.6f', x) end
local function terminal(state) return state == 'submitted' or state == 'failed' end
-- Count one more terminal chunk; 1 when that made every chunk of the campaign terminal.
local function finish(campaign_key, counter, at)
  redis.call('HINCRBY', campaign_key, counter, 1)
  local c = redis.call('HMGET', campaign_key, 'chunks', 'submitted', 'failed')
  if tonumber(c[2]) + tonumber(c[3]) == tonumber(c[1]) then
    redis.call('HSET', campaign_key, 'completed_at', fmt(at))
    return 1
  end
  return 0
end
"""

# KEYS: campaign hash, campaign index (zset), chunk hashes...
# ARGV: campaign id, meta JSON, created_at, indices JSON, then (index, task_name, count)...
CREATE = _PRELUDE + """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local at = fmt(now())
for i = 3, #KEYS do
  local a = 5 + (i - 3) * 3
  redis.call('DEL', KEYS[i])
  redis.call('HSET', KEYS[i], 'index', ARGV[a], 'task_name', ARGV[a + 1], 'count', ARGV[a + 2],
    'state', 'pending', 'attempts', 0, 'transient_failures', 0, 'updated_at', at)
end
redis.call('HSET', KEYS[1], 'meta', ARGV[2], 'chunks', #KEYS - 2, 'submitted', 0,
  'failed', 0, 'indices', ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return 1
"""

# KEYS: chunk hash. ARGV: token, lease seconds.
# Returns {outcome, attempts, lease_until, first_attempt_at}.
CLAIM = _PRELUDE + """
local h = redis.call('HMGET', KEYS[1], 'state', 'attempts', 'lease_until', 'lease_token',
  'first_attempt_at')
local state, attempts = h[1], h[2]
if not state then return {'missing', '0', '', ''} end
local first = h[5] or ''
if terminal(state) then return {state, attempts, h[3] or '', first} end
local t = now()
if state == 'sending' and h[4] ~= ARGV[1] and h[3] and tonumber(h[3]) > t then
  return {'leased', attempts, h[3], first}
end
attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
local lease_until = fmt(t + tonumber(ARGV[2]))
if first == '' then
  first = fmt(t)
  redis.call('HSET', KEYS[1], 'first_attempt_at', first)
end
redis.call('HSET', KEYS[1], 'state', 'sending', 'lease_token', ARGV[1],
  'lease_until', lease_until, 'updated_at', fmt(t))
return {'claimed', tostring(attempts), lease_until, first}
"""

# KEYS: chunk hash, campaign hash. ARGV: key id. Returns {changed, completed}.
MARK_SUBMITTED = _PRELUDE + """
local state = redis.call('HGET', KEYS[1], 'state')
if not state or terminal(state) then return {0, 0} end
local t = now()
redis.call('HSET', KEYS[1], 'state', 'submitted', 'key_id', ARGV[1], 'updated_at', fmt(t))
redis.call('HDEL', KEYS[1], 'lease_token', 'lease_until', 'error')
return {1, finish(KEYS[2], 'submitted', t)}
"""

# KEYS: chunk hash, campaign hash. ARGV: error JSON. Returns {changed, completed}.
MARK_FAILED = _PRELUDE + """
local state = redis.call('HGET', KEYS[1], 'state')
if not state or terminal(state) then return {0, 0} end
local t = now()
redis.call('HSET', KEYS[1], 'state', 'failed', 'error', ARGV[1], 'updated_at', fmt(t))
redis.call('HDEL', KEYS[1], 'lease_token', 'lease_until')
return {1, finish(KEYS[2], 'failed', t)}
"""

# KEYS: chunk hash. ARGV: token, error JSON ('' keeps the last error), transient (0/1).
# Only the lease holder (token) may move the chunk. Returns transient_failures.
MARK_WAITING = _PRELUDE + """
local h = redis.call('HMGET', KEYS[1], 'state', 'lease_token', 'transient_failures')
if not h[1] then return 0 end
if terminal(h[1]) or h[2] ~= ARGV[1] then return tonumber(h[3] or '0') end
local failures = tonumber(h[3] or '0')
if ARGV[3] == '1' then failures = redis.call('HINCRBY', KEYS[1], 'transient_failures', 1) end
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'error', ARGV[2]) end
redis.call('HSET', KEYS[1], 'state', 'waiting', 'updated_at', fmt(now()))
redis.call('HDEL', KEYS[1], 'lease_token', 'lease_until')
return failures
"""

# KEYS: chunk hash. A message for the chunk reached a worker: stamp delivered_at (on a
# chunk still to be sent) and return the chunk hash as HGETALL does.
DELIVER = _PRELUDE + """
local state = redis.call('HGET', KEYS[1], 'state')
if state and not terminal(state) then
  redis.call('HSET', KEYS[1], 'delivered_at', fmt(now()))
end
return redis.call('HGETALL', KEYS[1])
"""

# KEYS: campaign hash, chunk hashes... ARGV: the chunks' indices, in KEYS order.
# Failed -> pending; returns the indices reset.
RESET_FAILED = _PRELUDE + """
local reset = {}
local at = fmt(now())
for i = 2, #KEYS do
  if redis.call('HGET', KEYS[i], 'state') == 'failed' then
    redis.call('HSET', KEYS[i], 'state', 'pending', 'transient_failures', 0, 'updated_at', at)
    redis.call('HDEL', KEYS[i], 'lease_token', 'lease_until')
    reset[#reset + 1] = ARGV[i - 1]
  end
end
if #reset > 0 then
  redis.call('HINCRBY', KEYS[1], 'failed', -#reset)
  redis.call('HDEL', KEYS[1], 'completed_at')
end
return reset
"""
