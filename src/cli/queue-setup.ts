import type { Redis } from 'ioredis'
import type { Config } from '../config.js'
import { AuditqError } from '../errors.js'
import { connectRedis, readDurability, type DurabilityReport } from '../queue/redis-streams/index.js'
import type { QueueModeOptions } from '../sdk/queued-logger.js'
import type { Logger } from '../util/logger.js'

/** SDK queue-mode options from the one config. */
export function queueModeOptions(config: Config): { redisUrl?: string; queue?: QueueModeOptions } {
  if (!config.redisUrl) return {}
  return {
    redisUrl: config.redisUrl,
    queue: {
      prefix: config.queue.prefix,
      name: config.queue.name,
      capEvents: config.queue.capEvents,
      overflowPolicy: config.queue.overflowPolicy,
      blockTimeoutMs: config.queue.blockTimeoutMs,
      spillDir: config.queue.spillDir ?? `${config.dataDir}/spill`,
      spillMaxBytes: config.queue.spillMaxBytes,
      replayEveryMs: config.queue.replayEveryMs,
    },
  }
}

/**
 * A Redis client for workers and monitoring, after checking the server will not silently lose the
 * queue: an evicting maxmemory-policy refuses to start unless overridden, and the loss window of
 * its persistence settings is logged once, plainly.
 */
export async function connectQueueRedis(config: Config, logger: Logger): Promise<{ redis: Redis; durability: DurabilityReport }> {
  const redis = connectRedis(config.redisUrl!, { maxRetriesPerRequest: null })
  let lastWarned = 0
  redis.on('error', (error: Error) => {
    if (Date.now() - lastWarned < 10_000) return
    lastWarned = Date.now()
    logger.warn({ err_message: error.message }, 'redis connection error; retrying')
  })
  const report = await readDurability(redis)
  logger.info({ loss_window: report.lossWindow, settings: report.settings }, report.summary)
  if (report.evictsQueue === true && !config.queue.allowEvictingRedis) {
    redis.disconnect()
    throw new AuditqError(
      'AUDITQ_CONFIG',
      `redis maxmemory-policy ${report.settings?.maxmemoryPolicy} may evict queued events; set it to noeviction (or allowEvictingRedis to run anyway)`,
    )
  }
  return { redis, durability: report }
}
