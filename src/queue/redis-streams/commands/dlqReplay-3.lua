--[[
  Moves dead letters back to the main stream as new entries (so they are delivered afresh).
  KEYS[1] dlq, KEYS[2] events, KEYS[3] counters
  ARGV[1...] dlq entry ids
  Deletes each from the DLQ and counts `replayed`. Ignores the cap on purpose: the move does not
  grow Redis memory, and an operator's replay must not half-succeed. Returns {dlqId, newId, ...}.
]]
--- @include "includes/field"
local moved = {}
for i = 1, #ARGV do
  local entry = redis.call('XRANGE', KEYS[1], ARGV[i], ARGV[i])[1]
  if entry then
    local newId = redis.call('XADD', KEYS[2], '*', 'event', field(entry[2], 'event'))
    redis.call('XDEL', KEYS[1], ARGV[i])
    moved[#moved + 1] = ARGV[i]
    moved[#moved + 1] = newId
  end
end
if #moved > 0 then
  redis.call('HINCRBY', KEYS[3], 'replayed', #moved / 2)
end
return moved
