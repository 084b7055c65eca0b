import { v7 } from 'uuid'

/**
 * Ids for events that arrive without one: UUIDv7 (RFC 9562), monotonic within the process, as
 * uuid's own `v7()` makes them (a counter seeded from random bits each millisecond, incremented
 * within one), with the random bytes drawn from a pool filled 256 ids at a time. `v7()` asks the
 * platform for 16 bytes per id, and `crypto.getRandomValues` costs about 4.8 µs a call on Node 20
 * against 0.2 µs per id from the pool: about an eighth of direct mode's CPU per event
 * (BENCHMARKS.md). The pool holds bytes of the same generator, so the ids are as unpredictable.
 * Web Crypto only, so the Workers edition shares it.
 */
const POOL_IDS = 256
const pool = new Uint8Array(16 * POOL_IDS)
let offset = pool.length
let lastMs = -Infinity
let counter = 0

export function newEventId(): string {
  if (offset === pool.length) {
    crypto.getRandomValues(pool)
    offset = 0
  }
  const random = pool.subarray(offset, offset + 16)
  offset += 16
  const now = Date.now()
  if (now > lastMs) {
    // 31 random bits, so the millisecond's first id leaves room to count up (uuid's v7Sequence).
    counter = ((random[6]! & 0x7f) << 24) | (random[7]! << 16) | (random[8]! << 8) | random[9]!
    lastMs = now
  } else {
    // Same (or an earlier: the clock went back) millisecond: count on; a wrap moves to the next one.
    counter = (counter + 1) | 0
    if (counter === 0) lastMs++
  }
  return v7({ random, msecs: lastMs, seq: counter })
}
