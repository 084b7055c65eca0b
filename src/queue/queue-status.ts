import { Cluster } from 'ioredis'
import type { QueueRedis } from './redis-streams/connection.js'
import type { Config } from '../config.js'
import { configuredShards, DeadLetterQueue, knownShards, QueueMonitor, readShardLosses, type DurabilityReport, type LiveWorker, type QueueCounters, type QueueResetWatch, type QueueShard, type RedisLoss } from './redis-streams/index.js'
import { QUEUE_COUNTERS } from './redis-streams/monitor.js'
import { withDeadline } from '../util/deadline.js'

export interface QueueStatus {
  redis: 'connected' | 'unreachable'
  liveWorkers: LiveWorker[]
  /** Every shard's entries, summed. */
  queueLength: number | null
  /** Age of the oldest entry still in any shard (undelivered or pending: acknowledged entries are deleted), by Redis' clock; null when empty or unknown. */
  oldestEventAgeMs: number | null
  deadLetters: number | null
  /** Every shard's counters, summed. */
  counters: QueueCounters | null
  /** What a Redis crash would lose under its settings, read at start. */
  redisLossWindow: DurabilityReport['lossWindow'] | 'not checked'
  /** Losses Redis caused (restarted empty, keys deleted) not yet acknowledged; null when unreadable. */
  losses: RedisLoss[] | null
  /** Per shard, the totals' parts; null when unreadable. */
  shards: ShardStatus[] | null
}

export interface ShardStatus {
  /** The shard's hash tag (`default`, `default.1`, …). */
  shard: string
  /** False for a shard beyond the configured count that workers are draining. */
  current: boolean
  slot: number
  /** On a Redis Cluster, the master (`host:port`) serving the shard's slot as the client last saw it. */
  node: string | null
  length: number
  /** Entries delivered to a worker and not yet acknowledged. */
  pending: number
  deadLetters: number
  oldestEventAgeMs: number | null
  counters: QueueCounters
}

const STATUS_TIMEOUT_MS = 1_000

/** Reads the queue's live state for health and monitoring; never throws (an unreachable Redis is a state). */
export function queueStatusReader(
  redis: QueueRedis,
  config: Config,
  durability?: DurabilityReport,
  /** With a watch, every reading also looks for a Redis that lost the queue; without, it only reads the recorded losses. */
  options: { resetWatch?: QueueResetWatch } = {},
): () => Promise<QueueStatus> {
  const redisLossWindow = durability?.lossWindow ?? 'not checked'
  const layout = configuredShards(config.queue)
  // Workers' heartbeats live on the home shard.
  const monitor = new QueueMonitor(redis, layout[0]!.keys)
  // While Redis cannot be read, the losses this process knows of still show.
  const unreachable = (): QueueStatus => ({
    redis: 'unreachable', liveWorkers: [], queueLength: null, oldestEventAgeMs: null, deadLetters: null, counters: null, redisLossWindow,
    losses: options.resetWatch?.known() ?? null, shards: null,
  })
  return async () => {
    if (redis.status !== 'ready') return unreachable()
    const read = (async (): Promise<QueueStatus> => {
      const watch = options.resetWatch
      // Looked at before the stream's length, so a loss is recorded before this reading is judged.
      if (watch) await watch.check()
      const shards = await knownShards(redis, layout)
      const [parts, liveWorkers, losses] = await Promise.all([
        Promise.all(shards.map((shard) => readShard(redis, shard))),
        monitor.liveWorkers(),
        watch ? watch.losses() : readShardLosses(redis, shards),
      ])
      return { redis: 'connected', liveWorkers, ...totals(parts), redisLossWindow, losses, shards: parts }
    })()
    // A health probe must answer even when Redis hangs: past the timeout, Redis counts as unreachable.
    return (await withDeadline(read, STATUS_TIMEOUT_MS)) ?? unreachable()
  }
}

/** One shard's figures; what the CLI's `queue status` prints too. */
export async function readShard(redis: QueueRedis, shard: QueueShard): Promise<ShardStatus> {
  const { keys } = shard
  const [length, pending, deadLetters, oldestEventAgeMs, counters] = await Promise.all([
    redis.xlen(keys.events),
    pendingCount(redis, shard),
    new DeadLetterQueue(redis, keys).size(),
    oldestEntryAgeMs(redis, keys.events),
    new QueueMonitor(redis, keys).readCounters(),
  ])
  return { shard: shard.tag, current: shard.current, slot: shard.slot, node: masterOf(redis, shard.slot), length, pending, deadLetters, oldestEventAgeMs, counters }
}

export function totals(parts: readonly ShardStatus[]): { queueLength: number; oldestEventAgeMs: number | null; deadLetters: number; counters: QueueCounters } {
  const counters = Object.fromEntries(QUEUE_COUNTERS.map((name) => [name, parts.reduce((sum, part) => sum + part.counters[name], 0)])) as QueueCounters
  const ages = parts.flatMap((part) => (part.oldestEventAgeMs === null ? [] : [part.oldestEventAgeMs]))
  return {
    queueLength: parts.reduce((sum, part) => sum + part.length, 0),
    oldestEventAgeMs: ages.length === 0 ? null : Math.max(...ages),
    deadLetters: parts.reduce((sum, part) => sum + part.deadLetters, 0),
    counters,
  }
}

async function pendingCount(redis: QueueRedis, shard: QueueShard): Promise<number> {
  try {
    const summary = (await redis.xpending(shard.keys.events, shard.keys.group)) as [number, ...unknown[]]
    return Number(summary[0] ?? 0)
  } catch (error) {
    // No group yet (no worker ever started on this shard): nothing is pending.
    if (error instanceof Error && error.message.startsWith('NOGROUP')) return 0
    throw error
  }
}

/** ioredis' cluster client keeps the slot table it routes by: the master is each slot's first node. */
function masterOf(redis: QueueRedis, slot: number): string | null {
  if (!(redis instanceof Cluster)) return null
  const nodes = (redis as Cluster & { slots: string[][] }).slots[slot]
  return nodes?.[0] ?? null
}

/** Stream ids are `<ms>-<seq>` by Redis' clock; compared with Redis' TIME, host clock skew does not matter. */
async function oldestEntryAgeMs(redis: QueueRedis, stream: string): Promise<number | null> {
  const [time, oldest] = await Promise.all([redis.time(), redis.xrange(stream, '-', '+', 'COUNT', 1)])
  const first = oldest[0]
  if (first === undefined) return null
  const nowMs = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000)
  return Math.max(0, nowMs - Number(first[0].split('-')[0]))
}
