--[[
  XACK then XDEL each entry, only if XACK found it pending.
  KEYS[1] events
  ARGV[1] group, ARGV[2...] entry ids
  An id that was never delivered (a caller's mistake) is not deleted, so it cannot be lost.
  Returns how many were acknowledged.
]]
local acked = 0
for i = 2, #ARGV do
  if redis.call('XACK', KEYS[1], ARGV[1], ARGV[i]) == 1 then
    redis.call('XDEL', KEYS[1], ARGV[i])
    acked = acked + 1
  end
end
return acked
