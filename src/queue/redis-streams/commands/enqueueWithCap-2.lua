--[[
  Adds as many payloads as fit under `cap` entries, in order.
  KEYS[1] events, KEYS[2] counters
  ARGV[1] cap, ARGV[2] count-overflow (1 or 0), ARGV[3...] payloads
  XLEN counts exactly the un-acked entries, because acknowledged ones are deleted. The rest are
  counted as `overflow` unless told not to (a spill replay retrying events that already overflowed
  once must not count them again). Returns the new entry ids: fewer than the payloads when the cap
  was reached. XLEN is read inside the script: no read-before-write round trip, and no race
  between concurrent producers.
]]
local room = tonumber(ARGV[1]) - redis.call('XLEN', KEYS[1])
local total = #ARGV - 2
local fit = math.max(0, math.min(room, total))
local ids = {}
for i = 1, fit do
  ids[i] = redis.call('XADD', KEYS[1], '*', 'event', ARGV[i + 2])
end
if fit < total and ARGV[2] == '1' then
  redis.call('HINCRBY', KEYS[2], 'overflow', total - fit)
end
return ids
