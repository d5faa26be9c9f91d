-- taskgroup's RedisSemaphore: a weighted FIFO semaphore whose permits are leases, in four keys
-- that share the `{name}` hash tag (one Redis Cluster slot). Times are Redis's own clock (TIME),
-- in integer milliseconds.
--
-- KEYS[1] state:   hash {used = permits held, next = last ticket number, total = the stored
--                  total (written by 'resize'; absent: each client's own, ARGV[3])}
-- KEYS[2] queue:   zset, id -> ticket number: the waiters, in FIFO order
-- KEYS[3] leases:  zset, id -> expiry (ms): every waiter and holder
-- KEYS[4] permits: hash, id -> permits asked for (waiters) or held (holders)
-- An id (a client-made string) in `permits` and not in `queue` holds its permits.
--
-- ARGV: channel, op, default total, ttl (ms), then the op's own:
--   'acquire' id n try: {1, total} granted; {0, total} queued (try: refused, nothing queued);
--             {-2, total} n is above a non-zero total
--   'release' id...:    removes each id, waiting or holding; returns how many were known
--   'renew'   id...:    extends each known id's lease by ttl; {total, state...} with state 0
--             (unknown: expired or removed), 1 (queued) or 2 (holding)
--   'resize'  total:    stores the total, fails the waiters above it; returns 1
--   'state':            {total, used, queued}
-- Every op first removes the expired leases (a holder's permits come back, a waiter leaves the
-- line) and grants the head of the line while its permits fit. Grants are published on the
-- channel as 'g id id ...'; waiters failed by a resize as 't total id id ...' (also sent with
-- no id, so that listeners learn the new total).

if redis.replicate_commands then
  redis.replicate_commands() -- Redis < 5: needed to write after reading TIME
end

local state, queue, leases, permits = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local channel, op = ARGV[1], ARGV[2]
local ttl = tonumber(ARGV[4])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)

local fields = redis.call('HMGET', state, 'total', 'used')
local total = tonumber(fields[1] or ARGV[3])
local used = tonumber(fields[2] or 0)
local changed = false

-- Forgets `id`; returns 1 if it held permits, 2 if it waited, 0 if unknown.
local function remove(id)
  local n = redis.call('HGET', permits, id)
  if not n then
    return 0
  end
  redis.call('HDEL', permits, id)
  redis.call('ZREM', leases, id)
  changed = true
  if redis.call('ZREM', queue, id) == 1 then
    return 2
  end
  used = used - tonumber(n)
  return 1
end

-- Expired leases: a dead holder's permits come back, a dead waiter leaves the line. At most
-- 1000 per call (unpack's stack); the next call takes the rest.
local expired = redis.call('ZRANGEBYSCORE', leases, '-inf', now, 'LIMIT', 0, 1000)
for _, id in ipairs(expired) do
  remove(id)
end

-- Grants the head of the line while its permits fit; publishes who got them.
local function promote()
  local granted = {}
  local failed = {}
  while true do
    local head = redis.call('ZRANGE', queue, 0, 0)[1]
    if not head then
      break
    end
    local n = tonumber(redis.call('HGET', permits, head))
    if total > 0 and n > total then
      -- Clients configured with different totals: never block the line for good.
      remove(head)
      failed[#failed + 1] = head
    elseif used + n <= total then
      redis.call('ZREM', queue, head)
      used = used + n
      changed = true
      granted[#granted + 1] = head
    else
      break
    end
  end
  if #granted > 0 then
    redis.call('PUBLISH', channel, 'g ' .. table.concat(granted, ' '))
  end
  if #failed > 0 then
    redis.call('PUBLISH', channel, 't ' .. total .. ' ' .. table.concat(failed, ' '))
  end
end

local function finish()
  if changed then
    redis.call('HSET', state, 'used', used)
  end
end

promote()

if op == 'acquire' then
  local id, n, try = ARGV[5], tonumber(ARGV[6]), ARGV[7] == '1'
  local code
  if total > 0 and n > total then
    code = -2
  elseif redis.call('HEXISTS', permits, id) == 1 then
    -- Sent again after a lost answer: where it stands.
    code = redis.call('ZSCORE', queue, id) and 0 or 1
  elseif redis.call('ZCARD', queue) == 0 and used + n <= total then
    used = used + n
    changed = true
    redis.call('HSET', permits, id, n)
    redis.call('ZADD', leases, now + ttl, id)
    code = 1
  elseif try then
    code = 0
  else
    local ticket = redis.call('HINCRBY', state, 'next', 1)
    redis.call('ZADD', queue, ticket, id)
    redis.call('HSET', permits, id, n)
    redis.call('ZADD', leases, now + ttl, id)
    code = 0
  end
  finish()
  return {code, total}
end

if op == 'release' then
  local known = 0
  for i = 5, #ARGV do
    if remove(ARGV[i]) > 0 then
      known = known + 1
    end
  end
  promote()
  finish()
  return known
end

if op == 'renew' then
  local states = {total}
  for i = 5, #ARGV do
    local id = ARGV[i]
    if redis.call('HEXISTS', permits, id) == 1 then
      redis.call('ZADD', leases, 'XX', now + ttl, id)
      states[#states + 1] = redis.call('ZSCORE', queue, id) and 1 or 2
    else
      states[#states + 1] = 0
    end
  end
  finish()
  return states
end

if op == 'resize' then
  total = tonumber(ARGV[5])
  redis.call('HSET', state, 'total', total)
  local failed = {}
  if total > 0 then
    for _, id in ipairs(redis.call('ZRANGE', queue, 0, -1)) do
      if tonumber(redis.call('HGET', permits, id)) > total then
        remove(id)
        failed[#failed + 1] = id
      end
    end
  end
  local message = 't ' .. total
  if #failed > 0 then
    message = message .. ' ' .. table.concat(failed, ' ')
  end
  redis.call('PUBLISH', channel, message)
  promote()
  finish()
  return 1
end

if op == 'state' then
  finish()
  return {total, used, redis.call('ZCARD', queue)}
end

return redis.error_reply('taskgroup semaphore: unknown op ' .. tostring(op))
