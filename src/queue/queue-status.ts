import type { QueueRedis } from './redis-streams/connection.js'
import type { Config } from '../config.js'
import { DeadLetterQueue, QueueMonitor, queueKeys, readLosses, type DurabilityReport, type LiveWorker, type QueueCounters, type RedisLoss, type RedisResetWatch } from './redis-streams/index.js'
import { withDeadline } from '../util/deadline.js'

export interface QueueStatus {
  redis: 'connected' | 'unreachable'
  liveWorkers: LiveWorker[]
  queueLength: number | null
  /** Age of the oldest entry still in the stream (undelivered or pending: acknowledged entries are deleted), by Redis' clock; null when empty or unknown. */
  oldestEventAgeMs: number | null
  deadLetters: number | null
  counters: QueueCounters | null
  /** What a Redis crash would lose under its settings, read at start. */
  redisLossWindow: DurabilityReport['lossWindow'] | 'not checked'
  /** Losses Redis caused (restarted empty, keys deleted) not yet acknowledged; null when unreadable. */
  losses: RedisLoss[] | null
}

const STATUS_TIMEOUT_MS = 1_000

/** Reads the queue's live state for health and monitoring; never throws (an unreachable Redis is a state). */
export function queueStatusReader(
  redis: QueueRedis,
  config: Config,
  durability?: DurabilityReport,
  /** With a watch, every reading also looks for a Redis that lost the queue; without, it only reads the recorded losses. */
  options: { resetWatch?: RedisResetWatch } = {},
): () => Promise<QueueStatus> {
  const redisLossWindow = durability?.lossWindow ?? 'not checked'
  const keys = queueKeys({ prefix: config.queue.prefix, queue: config.queue.name })
  const monitor = new QueueMonitor(redis, keys)
  const deadLetters = new DeadLetterQueue(redis, keys)
  // While Redis cannot be read, the losses this process knows of still show.
  const unreachable = (): QueueStatus => ({
    redis: 'unreachable', liveWorkers: [], queueLength: null, oldestEventAgeMs: null, deadLetters: null, counters: null, redisLossWindow,
    losses: options.resetWatch?.known() ?? null,
  })
  return async () => {
    if (redis.status !== 'ready') return unreachable()
    const read = (async (): Promise<QueueStatus> => {
      const watch = options.resetWatch
      // Looked at before the stream's length, so a loss is recorded before this reading is judged.
      if (watch) await watch.check()
      const [queueLength, dlq, liveWorkers, counters, oldestEventAgeMs, losses] = await Promise.all([
        redis.xlen(keys.events),
        deadLetters.size(),
        monitor.liveWorkers(),
        monitor.readCounters(),
        oldestEntryAgeMs(redis, keys.events),
        watch ? watch.losses() : readLosses(redis, keys),
      ])
      return { redis: 'connected', liveWorkers, queueLength, oldestEventAgeMs, deadLetters: dlq, counters, redisLossWindow, losses }
    })()
    // A health probe must answer even when Redis hangs: past the timeout, Redis counts as unreachable.
    return (await withDeadline(read, STATUS_TIMEOUT_MS)) ?? unreachable()
  }
}

/** Stream ids are `<ms>-<seq>` by Redis' clock; compared with Redis' TIME, host clock skew does not matter. */
async function oldestEntryAgeMs(redis: QueueRedis, stream: string): Promise<number | null> {
  const [time, oldest] = await Promise.all([redis.time(), redis.xrange(stream, '-', '+', 'COUNT', 1)])
  const first = oldest[0]
  if (first === undefined) return null
  const nowMs = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000)
  return Math.max(0, nowMs - Number(first[0].split('-')[0]))
}
