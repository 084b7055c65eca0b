import { join, resolve } from 'node:path'
import type { QueueRedis } from '../queue/redis-streams/connection.js'
import { CONFIG_DEFAULTS } from '../config.js'
import { AuditqError } from '../errors.js'
import { routeByCriticality, type EventOutcome } from '../event/intake.js'
import type { AuditEvent } from '../event/types.js'
import { OverflowingQueue } from '../queue/overflow.js'
import { openQueueClient, shardLayout, type QueueShard } from '../queue/redis-streams/index.js'
import { errnoOf, SpillJournal, type SpillStats } from '../queue/spill/index.js'
import type { Store } from '../store/store.js'
import { BaseAuditLogger } from './base-logger.js'
import type { GroupCommitter } from './group-commit.js'
import type { LoggerStatsSnapshot } from './stats.js'
import type { AuditLoggerOptions, Ownership } from './types.js'

export type { OverflowPolicy, QueueModeOptions } from './types.js'

export async function createQueuedAuditLogger(store: Store, options: AuditLoggerOptions, ownership: Ownership): Promise<QueuedAuditLogger> {
  const queue = options.queue ?? {}
  const ownsRedis = queue.redis === undefined
  if (!queue.redis && !options.redisUrl) throw new AuditqError('AUDITQ_CONFIG', 'queue mode needs redisUrl or queue.redis')
  // Checked before anything is opened: a bad prefix, name or shard count fails with nothing to close.
  const shards = shardLayout({ ...(queue.prefix ? { prefix: queue.prefix } : {}), ...(queue.name ? { queue: queue.name } : {}), ...(queue.shards !== undefined ? { shards: queue.shards } : {}) })
  // No offline queue and a command timeout: when Redis is down, a call fails fast and the event
  // spills, instead of the request hanging while ioredis reconnects.
  const redis =
    queue.redis ??
    openQueueClient({ url: options.redisUrl!, cluster: queue.cluster, clusterNodes: queue.clusterNodes }, {
      enableOfflineQueue: false,
      commandTimeout: queue.redisCommandTimeoutMs ?? CONFIG_DEFAULTS.queue.redisCommandTimeoutMs,
      maxRetriesPerRequest: 0,
    })
  if (ownsRedis) {
    // Without a listener ioredis reports every failed reconnect as an unhandled error; one warning
    // per interval is enough, since every affected event is counted as spilled anyway.
    let lastWarned = 0
    redis.on('error', (error: Error) => {
      if (Date.now() - lastWarned < 10_000) return
      lastWarned = Date.now()
      options.logger?.warn({ err_message: error.message }, 'redis connection error; events spill until it is back')
    })
    await waitForReady(redis, 2_000)
  }
  const spillDir = queue.spillDir ?? join(options.dataDir ?? CONFIG_DEFAULTS.dataDir, 'spill')
  let spill: SpillJournal
  try {
    spill = await SpillJournal.open({ dir: spillDir, ...(queue.spillMaxBytes ? { maxBytes: queue.spillMaxBytes } : {}) })
  } catch (error) {
    if (ownsRedis) redis.disconnect()
    if (error instanceof AuditqError) throw error
    // A full disk alone no longer stops the journal from opening; what still does (no inode left,
    // EACCES, EROFS, a file where the directory should be) is named with the directory and errno.
    throw new AuditqError('AUDITQ_SPILL_FAILED', `cannot open the spill journal in ${resolve(spillDir)}: ${errnoOf(error)} (${(error as Error).message})`, { cause: error })
  }
  return new QueuedAuditLogger(store, options, { ownsStore: ownership.ownsStore, ownsRedis, redis, spill, shards })
}

/** Resolves when connected, or after `timeoutMs` (Redis being down at start is not fatal: events spill). */
function waitForReady(redis: QueueRedis, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve()
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer)
      redis.off('ready', done)
      resolve()
    }
    const timer = setTimeout(done, timeoutMs)
    redis.once('ready', done)
  })
}

interface Resources extends Ownership {
  ownsRedis: boolean
  shards: QueueShard[]
  redis: QueueRedis
  spill: SpillJournal
}

/**
 * Queue mode: `log()` resolves once Redis holds the event (or, when it cannot, once the event is
 * in the local spill journal or the store). Where an event can wait: the producer's same-tick
 * buffer (until its script call answers), the Redis stream, the spill journal (replayed into the
 * stream when there is room), and — for critical events — nowhere: they go straight to the store.
 */
export class QueuedAuditLogger extends BaseAuditLogger {
  private readonly queue: OverflowingQueue
  protected readonly committer: GroupCommitter

  constructor(
    store: Store,
    options: AuditLoggerOptions,
    private readonly resources: Resources,
  ) {
    super(store, options)
    const queue = options.queue ?? {}
    this.committer = this.createCommitter(options)
    this.queue = new OverflowingQueue({
      redis: resources.redis,
      shards: resources.shards,
      spill: resources.spill,
      tally: this.counters,
      logger: this.log_,
      ...(options.observeQueueDivert ? { onDivert: options.observeQueueDivert } : {}),
      ...(queue.capEvents ? { capEvents: queue.capEvents } : {}),
      ...(queue.replicaAcks
        ? { replicaAcks: { replicas: queue.replicaAcks, timeoutMs: queue.replicaAckTimeoutMs ?? CONFIG_DEFAULTS.queue.replicaAckTimeoutMs } }
        : {}),
      ...(queue.overflowPolicy ? { overflowPolicy: queue.overflowPolicy } : {}),
      ...(queue.blockTimeoutMs !== undefined ? { blockTimeoutMs: queue.blockTimeoutMs } : {}),
      ...(queue.replayEveryMs ? { replayEveryMs: queue.replayEveryMs } : {}),
    })
  }

  /** Spilled events not yet back in the queue (for health and metrics). */
  spillStats(): SpillStats {
    return this.queue.spillStats()
  }

  override stats(): LoggerStatsSnapshot {
    return { ...super.stats(), spill: this.spillStats() }
  }

  protected route(events: AuditEvent[]): Promise<EventOutcome[]> {
    return routeByCriticality(events, {
      critical: (critical) => this.committer.submit(critical, { urgent: true }),
      others: (others) => this.queue.enqueue(others),
    })
  }

  protected async shutdown(): Promise<void> {
    await this.queue.close()
    await this.committer.drain()
    if (this.resources.ownsRedis) this.resources.redis.disconnect()
    if (this.resources.ownsStore) await this.store.close()
  }
}
