import type { QueueRedis } from './connection.js'
import { AuditqError } from '../../errors.js'
import { CONFIG_DEFAULTS } from '../../config.js'
import { queueKeys, type QueueKeys } from './keys.js'
import { keySlot, SLOTS } from './slot.js'

/**
 * A queue split into shards. Each shard is a complete single queue of its own (stream, consumer
 * group, dead letters, counters, identity) under its own hash tag, so every Lua script keeps all
 * its keys in one slot and runs unchanged per shard; on a Redis Cluster the shards' slots, and so
 * their masters, differ.
 *
 * Shard 0, the home shard, is the queue as it has always been (`{default}`): one shard is exactly
 * the old layout. The home shard also holds what belongs to the queue as a whole: the workers'
 * heartbeats, the producers' own counters (spilled, dropped) and the registry of shard tags.
 *
 * Placement: shard i (i ≥ 1) gets the tag `<name>.<i>` or, if that does not land where wanted,
 * `<name>.<i>.<k>` for the smallest k that does. "Where wanted" cuts the slot space into as many
 * equal ranges as there are shards, counting from the home shard's range, and aims shard i at the
 * middle half of the range i after it. A cluster whose masters split the slots evenly (what
 * `redis-cli --cluster create` does) into as many masters as shards, or a multiple, so puts every
 * shard on a different master. The choice is a pure function of name and count: every process
 * finds the same tags without asking Redis.
 */
export interface QueueShard {
  /** Position in the layout (0 = home); shards found only in the registry come after the layout's. */
  readonly index: number
  /** The hash tag, which names the shard in status and DLQ output. */
  readonly tag: string
  readonly keys: QueueKeys
  /** Redis Cluster slot of every key of the shard. */
  readonly slot: number
  /** False for a shard no longer in the configured layout that workers still drain (the count was lowered). */
  readonly current: boolean
}

/** Upper bound of `queue.shards`: beyond one shard per master, more shards buy nothing. */
export const MAX_QUEUE_SHARDS = 64

export interface ShardLayoutOptions {
  prefix?: string
  queue?: string
  shards?: number
}

export function shardLayout(options: ShardLayoutOptions = {}): QueueShard[] {
  const prefix = options.prefix ?? CONFIG_DEFAULTS.queue.prefix
  const queue = options.queue ?? CONFIG_DEFAULTS.queue.name
  const count = options.shards ?? CONFIG_DEFAULTS.queue.shards
  if (!Number.isInteger(count) || count < 1 || count > MAX_QUEUE_SHARDS) {
    throw new AuditqError('AUDITQ_CONFIG', `queue shards must be an integer from 1 to ${MAX_QUEUE_SHARDS}, got ${count}`)
  }
  const home = queueKeys({ prefix, queue })
  const homeSlot = keySlot(home.events)
  const width = SLOTS / count
  const homeRange = Math.floor(homeSlot / width)
  const shards: QueueShard[] = [{ index: 0, tag: queue, keys: home, slot: homeSlot, current: true }]
  for (let index = 1; index < count; index++) {
    const range = (homeRange + index) % count
    const low = Math.floor((range + 0.25) * width)
    const high = Math.max(low + 1, Math.floor((range + 0.75) * width))
    for (let k = 0; ; k++) {
      const tag = k === 0 ? `${queue}.${index}` : `${queue}.${index}.${k}`
      const slot = keySlot(tag)
      if (slot >= low && slot < high) {
        shards.push({ index, tag, keys: queueKeys({ prefix, queue: tag }), slot, current: true })
        break
      }
    }
  }
  return shards
}

/** The layout a config describes. */
export function configuredShards(queue: { prefix: string; name: string; shards: number }): QueueShard[] {
  return shardLayout({ prefix: queue.prefix, queue: queue.name, shards: queue.shards })
}

/**
 * Records the layout's shard tags in the home shard's registry, so workers configured with fewer
 * shards (or started before the count was raised) still find and drain them. Idempotent.
 */
export async function registerShards(redis: QueueRedis, shards: readonly QueueShard[]): Promise<void> {
  const home = shards[0]
  const tags = shards.slice(1).map((shard) => shard.tag)
  if (home === undefined || tags.length === 0) return
  await redis.sadd(home.keys.shards, ...tags)
}

/**
 * The layout plus every shard the registry names that the layout lacks (appended, `current:
 * false`): what workers consume and what status and the DLQ tools report, so lowering the count
 * strands nothing.
 */
export async function knownShards(redis: QueueRedis, layout: readonly QueueShard[]): Promise<QueueShard[]> {
  const home = layout[0]!
  const registered = await redis.smembers(home.keys.shards)
  const prefix = home.keys.events.slice(0, home.keys.events.indexOf(':{'))
  const shards = [...layout]
  for (const tag of registered.sort()) {
    if (tag.includes('{') || tag.includes('}') || tag === '' || shards.some((shard) => shard.tag === tag)) continue
    const keys = queueKeys({ prefix, queue: tag })
    shards.push({ index: shards.length, tag, keys, slot: keySlot(keys.events), current: false })
  }
  return shards
}
