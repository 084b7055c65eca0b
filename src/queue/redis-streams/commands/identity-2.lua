--[[
  Reads (or creates) the queue's identity together with the stream's length.
  KEYS[1] identity, KEYS[2] events
  ARGV[1] a fresh random id, used when the identity is missing
  Returns {identity, existed (1/0), stream length}. Read together, so the length is the one of
  the data the identity vouches for.
]]
local identity = redis.call('GET', KEYS[1])
local existed = 1
if not identity then
  redis.call('SET', KEYS[1], ARGV[1])
  identity = ARGV[1]
  existed = 0
end
return {identity, existed, redis.call('XLEN', KEYS[2])}
