--[[
  Records a worker's heartbeat.
  KEYS[1] workers index, KEYS[2] worker key
  ARGV[1] worker id, ARGV[2] figures JSON, ARGV[3] ttlMs, ARGV[4] retentionMs
  Writes the figures with a TTL (gone when the worker stops beating) and records the beat in the
  index with Redis' clock, so hosts with skewed clocks agree; forgets index entries older than
  `retentionMs`. Returns the beat time (ms).
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[4]))
return now
