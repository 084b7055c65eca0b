import type { QueueRedis } from '../queue/redis-streams/connection.js'
import type { Config } from '../config.js'
import { AuditqError } from '../errors.js'
import { openQueueClient, readDurability, type DurabilityReport } from '../queue/redis-streams/index.js'
import type { QueueModeOptions } from '../sdk/queued-logger.js'
import { withDeadline } from '../util/deadline.js'
import type { Logger } from '../util/logger.js'

/** SDK queue-mode options from the one config. */
export function queueModeOptions(config: Config): { redisUrl?: string; queue?: QueueModeOptions } {
  if (!config.redisUrl) return {}
  return {
    redisUrl: config.redisUrl,
    queue: {
      prefix: config.queue.prefix,
      name: config.queue.name,
      shards: config.queue.shards,
      capEvents: config.queue.capEvents,
      overflowPolicy: config.queue.overflowPolicy,
      blockTimeoutMs: config.queue.blockTimeoutMs,
      spillDir: config.queue.spillDir ?? `${config.dataDir}/spill`,
      spillMaxBytes: config.queue.spillMaxBytes,
      replayEveryMs: config.queue.replayEveryMs,
      cluster: config.queue.cluster,
      clusterNodes: config.queue.clusterNodes,
      replicaAcks: config.queue.replicaAcks,
      replicaAckTimeoutMs: config.queue.replicaAckTimeoutMs,
    },
  }
}

/** How long start-up waits for Redis to answer the durability check before going on without it. */
const DURABILITY_CHECK_TIMEOUT_MS = 3_000

/**
 * A Redis client for workers and monitoring, after checking the server will not silently lose the
 * queue: an evicting maxmemory-policy refuses to start unless overridden, and the loss window of
 * its persistence settings is logged once, plainly. Redis being down at start is not fatal (the
 * SDK spills meanwhile): the check then runs when Redis first becomes ready.
 */
export async function connectQueueRedis(config: Config, logger: Logger): Promise<{ redis: QueueRedis; durability: DurabilityReport | undefined }> {
  // Workers wait for Redis rather than fail each command while it reconnects.
  const redis = openQueueClient({ url: config.redisUrl!, cluster: config.queue.cluster, clusterNodes: config.queue.clusterNodes }, { maxRetriesPerRequest: null })
  let lastWarned = 0
  redis.on('error', (error: Error) => {
    if (Date.now() - lastWarned < 10_000) return
    lastWarned = Date.now()
    logger.warn({ err_message: error.message }, 'redis connection error; retrying')
  })
  const check = async (): Promise<DurabilityReport> => {
    const report = await readDurability(redis)
    // Without persistence (or with snapshots only) a Redis crash silently loses acknowledged
    // events: that is worth a warning at every start, not an info line nobody reads.
    const risky = report.lossWindow === 'everything-queued' || report.lossWindow === 'since-last-snapshot'
    logger[risky ? 'warn' : 'info']({ loss_window: report.lossWindow, settings: report.settings }, report.summary)
    return report
  }
  const report = await withDeadline(check(), DURABILITY_CHECK_TIMEOUT_MS)
  if (!report) {
    logger.warn('redis did not answer at start; its durability will be checked when it is reachable')
    redis.once('ready', () => {
      check()
        .then((late) => {
          if (late.evictsQueue === true && !config.queue.allowEvictingRedis) logger.error(evictionMessage(late))
        })
        .catch(() => undefined)
    })
    return { redis, durability: undefined }
  }
  if (report.evictsQueue === true && !config.queue.allowEvictingRedis) {
    redis.disconnect()
    throw new AuditqError('AUDITQ_CONFIG', evictionMessage(report))
  }
  return { redis, durability: report }
}

function evictionMessage(report: DurabilityReport): string {
  return `redis maxmemory-policy ${report.settings?.maxmemoryPolicy} may evict queued events; set it to noeviction (or queue.allowEvictingRedis to run anyway)`
}
