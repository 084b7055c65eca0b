--[[
  One XAUTOCLAIM page.
  KEYS[1] events
  ARGV[1] group, ARGV[2] consumer, ARGV[3] minIdleMs, ARGV[4] cursor, ARGV[5] count
  Returns { nextCursor, entries }. The delivery count is not read here: nothing decides on it at
  claim time; deadLetter reads it (as `attempts`) when an entry leaves for the DLQ.
]]
local reply = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], 'COUNT', ARGV[5])
return { reply[1], reply[2] }
