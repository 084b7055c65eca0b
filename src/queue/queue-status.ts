import type { Redis } from 'ioredis'
import type { Config } from '../config.js'
import { DeadLetterQueue, QueueMonitor, queueKeys, type DurabilityReport, type LiveWorker, type QueueCounters } from './redis-streams/index.js'

export interface QueueStatus {
  redis: 'connected' | 'unreachable'
  liveWorkers: LiveWorker[]
  queueLength: number | null
  deadLetters: number | null
  counters: QueueCounters | null
  /** What a Redis crash would lose under its settings, read at start. */
  redisLossWindow: DurabilityReport['lossWindow'] | 'not checked'
}

const STATUS_TIMEOUT_MS = 1_000

/** Reads the queue's live state for health and monitoring; never throws (an unreachable Redis is a state). */
export function queueStatusReader(redis: Redis, config: Config, durability?: DurabilityReport): () => Promise<QueueStatus> {
  const redisLossWindow = durability?.lossWindow ?? 'not checked'
  const keys = queueKeys({ prefix: config.queue.prefix, queue: config.queue.name })
  const monitor = new QueueMonitor(redis, keys)
  const deadLetters = new DeadLetterQueue(redis, keys)
  const unreachable: QueueStatus = { redis: 'unreachable', liveWorkers: [], queueLength: null, deadLetters: null, counters: null, redisLossWindow }
  return async () => {
    if (redis.status !== 'ready') return unreachable
    let timer: NodeJS.Timeout | undefined
    // A health probe must answer even when Redis hangs: past the timeout, Redis counts as unreachable.
    const timeout = new Promise<QueueStatus>((resolve) => {
      timer = setTimeout(() => resolve(unreachable), STATUS_TIMEOUT_MS)
    })
    const read = (async (): Promise<QueueStatus> => {
      const [queueLength, dlq, liveWorkers, counters] = await Promise.all([
        redis.xlen(keys.events),
        deadLetters.size(),
        monitor.liveWorkers(),
        monitor.readCounters(),
      ])
      return { redis: 'connected', liveWorkers, queueLength, deadLetters: dlq, counters, redisLossWindow }
    })().catch(() => unreachable)
    try {
      return await Promise.race([read, timeout])
    } finally {
      clearTimeout(timer)
    }
  }
}
