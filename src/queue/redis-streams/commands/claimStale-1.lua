--[[
  One XAUTOCLAIM page, plus each claimed entry's delivery count from XPENDING.
  KEYS[1] events
  ARGV[1] group, ARGV[2] consumer, ARGV[3] minIdleMs, ARGV[4] cursor, ARGV[5] count
  XAUTOCLAIM does not report the delivery count. Returns { nextCursor, entries, deliveryCounts }.
]]
local reply = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], 'COUNT', ARGV[5])
local counts = {}
for i, entry in ipairs(reply[2]) do
  local pending = redis.call('XPENDING', KEYS[1], ARGV[1], entry[1], entry[1], 1)[1]
  counts[i] = pending and pending[4] or 0
end
return { reply[1], reply[2], counts }
