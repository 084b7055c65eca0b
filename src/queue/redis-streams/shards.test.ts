import { describe, expect, it } from 'vitest'
import { queueKeys } from './keys.js'
import { MAX_QUEUE_SHARDS, shardLayout } from './shards.js'
import { keySlot, SLOTS } from './slot.js'

/** Keys as plain strings (the `worker` function would never compare equal). */
const plain = (keys: ReturnType<typeof queueKeys>) => ({ ...keys, worker: keys.worker('w1') })
const plainLayout = (layout: ReturnType<typeof shardLayout>) => layout.map((shard) => ({ ...shard, keys: plain(shard.keys) }))

describe('queue shard layout', () => {
  it('one shard is exactly the single-stream layout', () => {
    const [home, ...rest] = shardLayout()
    expect(rest).toEqual([])
    expect(plain(home!.keys)).toEqual(plain(queueKeys()))
    expect(home!.tag).toBe('default')
  })

  it('keeps the home shard and gives every other shard a tag of its own, in its own slot range', () => {
    for (const count of [2, 3, 4, 6, 16, MAX_QUEUE_SHARDS]) {
      const layout = shardLayout({ prefix: 'acme', queue: 'billing', shards: count })
      expect(plain(layout[0]!.keys)).toEqual(plain(queueKeys({ prefix: 'acme', queue: 'billing' })))
      expect(new Set(layout.map((shard) => shard.tag)).size).toBe(count)
      // Each shard's keys share its slot; an even split of the slots into `count` masters puts each shard on a different one.
      const ranges = layout.map((shard) => Math.floor(shard.slot / (SLOTS / count)))
      expect(new Set(ranges).size).toBe(count)
      for (const shard of layout) {
        expect(keySlot(shard.keys.events)).toBe(shard.slot)
        expect(keySlot(shard.keys.deadLetters)).toBe(shard.slot)
        expect(keySlot(shard.keys.worker('w1'))).toBe(shard.slot)
      }
    }
  })

  it('is a pure function of name and count, so every process finds the same shards', () => {
    expect(plainLayout(shardLayout({ queue: 'q', shards: 5 }))).toEqual(plainLayout(shardLayout({ queue: 'q', shards: 5 })))
  })

  it('refuses a count outside 1–64, naming the setting', () => {
    for (const shards of [0, 65, 1.5]) {
      expect(() => shardLayout({ shards })).toThrow(expect.objectContaining({ code: 'AUDITQ_CONFIG', message: expect.stringContaining('queue shards must be an integer from 1 to 64') }))
    }
  })

  it('computes slots as Redis does, hash tags included', () => {
    // Values from CLUSTER KEYSLOT (Redis 7).
    expect(keySlot('foo')).toBe(12182)
    expect(keySlot('{user1000}.following')).toBe(keySlot('user1000'))
    expect(keySlot('{}x')).toBe(keySlot('{}x'))
    expect(keySlot('123456789')).toBe(0x31c3 % SLOTS)
  })
})
