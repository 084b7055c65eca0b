--[[
  Moves entries from the main stream to the dead-letter queue.
  KEYS[1] events, KEYS[2] dlq, KEYS[3] counters
  ARGV[1] group, ARGV[2] error, ARGV[3...] entry ids
  For each entry still in the stream: XADD it to the DLQ with the error, its delivery count
  (`attempts`, from XPENDING) and its source id, then XACK + XDEL it from the main stream, and
  count `dead_lettered`. All in one script, so an entry is in exactly one of the two streams.
  Returns how many moved.
]]
--- @include "includes/field"
local moved = 0
for i = 3, #ARGV do
  local id = ARGV[i]
  local entry = redis.call('XRANGE', KEYS[1], id, id)[1]
  if entry then
    local pending = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1)[1]
    local attempts = pending and pending[4] or 0
    redis.call('XADD', KEYS[2], '*', 'event', field(entry[2], 'event'), 'error', ARGV[2], 'attempts', attempts, 'source', id)
    redis.call('XACK', KEYS[1], ARGV[1], id)
    redis.call('XDEL', KEYS[1], id)
    moved = moved + 1
  end
end
if moved > 0 then
  redis.call('HINCRBY', KEYS[3], 'dead_lettered', moved)
end
return moved
