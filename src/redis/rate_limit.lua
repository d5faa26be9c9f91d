-- taskgroup's RedisRateLimiter: the GCRA of src/rate_limit/gcra.rs (virtual scheduling) on one
-- Redis key, with Redis's own clock, so that every client of a limit books from one schedule.
--
-- KEYS[1]: the limit's state, a string: the start of the latest booked slot (integer
--          microseconds since the Unix epoch, exact in a Lua double for centuries).
-- KEYS[2]: the limit's stored rate, a hash {interval, burst} written by `set_rate`; when present
--          it wins over the client's own (ARGV[3], ARGV[4]). Both keys carry the `{name}` hash
--          tag, so they live in one Redis Cluster slot.
-- ARGV:    op, n, interval (µs per slot), burst, before, after
--   op 'book': books n slots; returns {delay µs from now to their start, before, after}
--   op 'try':  takes n slots only if they start now; returns {1, 0} or {0, wait µs}
--   op 'back': gives a booking back if it is still the latest (`after` is stored): `before`
--              again; returns 1 if it was, 0 otherwise
--   op 'set':  stores interval and burst as the limit's rate; returns 1
-- The state key expires once its booking is a full burst in the past, when it no longer differs
-- from an absent key.

-- Redis < 5 replicates scripts verbatim unless told to replicate effects: needed to write after
-- reading TIME. A no-op from Redis 5 on (script effects replication is the only mode in 7).
if redis.replicate_commands then
  redis.replicate_commands()
end

local state, config = KEYS[1], KEYS[2]
local op = ARGV[1]

if op == 'set' then
  redis.call('HSET', config, 'interval', ARGV[3], 'burst', ARGV[4])
  return 1
end

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local interval, burst = tonumber(ARGV[3]), tonumber(ARGV[4])
local stored = redis.call('HMGET', config, 'interval', 'burst')
if stored[1] and stored[2] then
  interval, burst = tonumber(stored[1]), tonumber(stored[2])
end
local tolerance = burst * interval

-- Makes `at` the latest booking, kept while it still matters.
local function store(at)
  local ttl = math.ceil((at + tolerance - now) / 1000)
  if ttl > 0 then
    -- '%.0f': integers past 1e14 would print in exponent form with tostring.
    redis.call('SET', state, string.format('%.0f', at), 'PX', ttl)
  else
    redis.call('DEL', state)
  end
end

if op == 'back' then
  if redis.call('GET', state) ~= ARGV[6] then
    return 0 -- somebody booked after it: the slot stays unused, nobody is delayed
  end
  store(tonumber(ARGV[5]))
  return 1
end

local n = tonumber(ARGV[2])
local booked = tonumber(redis.call('GET', state) or 0)
local before = math.max(booked, now - tolerance) -- an idle limit refills, up to a full burst
local after = before + n * interval

if op == 'try' then
  if after > now then
    return {0, after - now} -- a booking ahead (a queued waiter) or a spent burst: no barging
  end
  store(after)
  return {1, 0}
end

store(after)
return {math.max(after - now, 0), before, after}
