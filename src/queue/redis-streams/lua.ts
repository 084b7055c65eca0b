/**
 * Every multi-key state change of the queue, as one Lua script each: atomic, and one round trip
 * whatever the batch size. Only `scripts.ts` calls them. Inline strings rather than `.lua` files
 * because `tsc` would not copy `.lua` files into `dist/`.
 *
 * Shared conventions:
 * - every key a script touches is passed in KEYS (Cluster requires it; `keys.ts` gives them one
 *   hash tag, so they share a slot);
 * - a stream entry holds one field, `event`, with the compact JSON of the AuditEvent (`codec.ts`);
 * - a missing entry is skipped, never an error: a claim race (two workers finishing the same entry)
 *   must not fail a batch that is otherwise fine.
 *
 * Loops call XACK/XDEL per id instead of `unpack(ARGV)`, because Lua's `unpack` fails past ~8,000
 * values, and per-id XACK tells which entries were really pending (see ACK_AND_DELETE).
 */

/** Lua helper: value of `name` in a flat [field, value, …] list; the whole list as JSON if absent. */
const FIELD = `
local function field(fields, name)
  for i = 1, #fields, 2 do
    if fields[i] == name then return fields[i + 1] end
  end
  return cjson.encode(fields)
end
`

/**
 * KEYS: events, counters. ARGV: cap, count-overflow (1 or 0), payload…
 * Adds as many payloads as fit under `cap` entries (XLEN counts exactly the un-acked entries,
 * because acknowledged ones are deleted), in order; counts the rest as `overflow` unless told not
 * to (a spill replay retrying events that already overflowed once must not count them again).
 * Returns the new entry ids — fewer than the payloads when the cap was reached. The XLEN is read
 * inside the script: no read-before-write round trip, and no race between concurrent producers.
 */
export const ENQUEUE_WITH_CAP = `
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
`

/**
 * KEYS: events. ARGV: group, entry id…
 * XACK then XDEL each entry, only if XACK found it pending: an id that was never delivered (a
 * caller's mistake) is not deleted, so it cannot be lost. Returns how many were acknowledged.
 */
export const ACK_AND_DELETE = `
local acked = 0
for i = 2, #ARGV do
  if redis.call('XACK', KEYS[1], ARGV[1], ARGV[i]) == 1 then
    redis.call('XDEL', KEYS[1], ARGV[i])
    acked = acked + 1
  end
end
return acked
`

/**
 * KEYS: events. ARGV: group, consumer, minIdleMs, cursor, count.
 * One XAUTOCLAIM page, plus each claimed entry's delivery count from XPENDING (XAUTOCLAIM does
 * not report it), so a worker can spot an entry that keeps coming back.
 * Returns { nextCursor, entries, deliveryCounts }.
 */
export const CLAIM_STALE = `
local reply = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], 'COUNT', ARGV[5])
local counts = {}
for i, entry in ipairs(reply[2]) do
  local pending = redis.call('XPENDING', KEYS[1], ARGV[1], entry[1], entry[1], 1)[1]
  counts[i] = pending and pending[4] or 0
end
return { reply[1], reply[2], counts }
`

/**
 * KEYS: events, dlq, counters. ARGV: group, error, entry id…
 * For each entry still in the stream: XADD it to the DLQ with the error, its delivery count
 * (`attempts`, from XPENDING) and its source id, then XACK + XDEL it from the main stream, and
 * count `dead_lettered`. All in one script, so an entry is in exactly one of the two streams.
 * Returns how many moved.
 */
export const DEAD_LETTER =
  FIELD +
  `
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
`

/**
 * KEYS: dlq, events, counters. ARGV: dlq entry id…
 * Moves each dead letter back to the main stream as a new entry (so it is delivered afresh) and
 * deletes it from the DLQ, counting `replayed`. Ignores the cap on purpose: the move does not grow
 * Redis memory, and an operator's replay must not half-succeed. Returns [dlqId, newId, …].
 */
export const DLQ_REPLAY =
  FIELD +
  `
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
`

/**
 * KEYS: workers, worker key. ARGV: worker id, figures JSON, ttlMs, retentionMs.
 * Writes the figures with a TTL (the heartbeat: gone when the worker stops beating) and records the
 * beat in the index with Redis' clock, so hosts with skewed clocks agree; forgets index entries
 * older than `retentionMs`. Returns the beat time (ms).
 */
export const HEARTBEAT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[4]))
return now
`

/**
 * KEYS: identity, events. ARGV: a fresh random id.
 * Returns {identity, existed (1/0), stream length}. Sets the identity to the fresh id if it is
 * missing. Read together, so the length is the one of the data the identity vouches for.
 */
export const IDENTITY = `
local identity = redis.call('GET', KEYS[1])
local existed = 1
if not identity then
  redis.call('SET', KEYS[1], ARGV[1])
  identity = ARGV[1]
  existed = 0
end
return {identity, existed, redis.call('XLEN', KEYS[2])}
`
