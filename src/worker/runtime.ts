import { hostname } from 'node:os'
import type { QueueRedis } from '../queue/redis-streams/connection.js'
import type { Config } from '../config.js'
import { configuredShards, QueueMonitor, registerShards, ShardedConsumer, ShardedResetWatch, type QueueResetWatch } from '../queue/redis-streams/index.js'
import type { Store } from '../store/store.js'
import type { Logger } from '../util/logger.js'
import { backoffFromConfig } from './backoff.js'
import { RollingFigures } from './figures.js'
import { encodeHeartbeat, type WorkerHeartbeat } from './heartbeat.js'
import { QueueWorker, type BatchReport } from './queue-worker.js'
import { withDeadline } from '../util/deadline.js'

export interface WorkerRuntimeOptions {
  config: Config
  store: Store
  redis: QueueRedis
  logger: Logger
  /**
   * Stable across restarts (host + slot), so a restarted worker owns its old pending entries and
   * claims them back at once instead of waiting for the idle timeout.
   */
  workerId?: string
  /** Called with every batch report (Prometheus batch metrics). */
  observeBatch?: (report: BatchReport) => void
  /** Called with every failed insert attempt, as it happens (the Prometheus batch-failure counter). */
  observeFailedAttempt?: () => void
  /**
   * Notices Redis losing the queue. `serve` passes the one its health reading uses, so a reset is
   * detected and counted once per process; otherwise the runtime makes its own, reporting each
   * detection to `observeRedisReset`.
   */
  resetWatch?: QueueResetWatch
  observeRedisReset?: (outcome: 'data_lost' | 'data_kept') => void
  /**
   * Told at every insert that failed because the store is unavailable (`paused`: the first one
   * pauses the worker) and when it resumes (a batch stored whole again): the service records the
   * pause in the access trail.
   */
  observeStorePause?: (state: 'paused' | 'resumed', workerId: string) => void
}

export interface WorkerRuntime {
  readonly workerId: string
  readonly worker: QueueWorker
  /** Beats skipped because the previous one had not settled (Redis down or slow). */
  readonly skippedBeats: number
  /** Stops within `deadlineMs` (default `worker.shutdownDeadlineMs`). */
  stop(deadlineMs?: number): Promise<{ drained: boolean }>
}

/**
 * Longest stop() waits for a beat in flight, and again for the heartbeat key's removal. Taken out of
 * the drain's share of the deadline (at most a quarter of it each), so stop() still ends in time.
 */
const RETIRE_BOUND_MS = 500

/** One queue worker with its heartbeat: what `auditq worker` runs per process and `serve` runs in-process. */
export async function startWorkerRuntime(options: WorkerRuntimeOptions): Promise<WorkerRuntime> {
  const { config, store, redis, logger } = options
  const workerId = options.workerId ?? `${hostname()}-${process.pid}`
  const layout = configuredShards(config.queue)
  // The home shard holds what belongs to the queue as a whole: here, the workers' heartbeats.
  const keys = layout[0]!.keys
  const resetWatch =
    options.resetWatch ??
    new ShardedResetWatch({ redis, shards: layout, logger, source: workerId, ...(options.observeRedisReset ? { onReset: options.observeRedisReset } : {}) })
  // The first look is the baseline later looks compare with: taken before the group is (re)created.
  await resetWatch.check().catch(() => undefined)
  // Registered, so workers configured with fewer shards drain these too (shards.ts).
  await registerShards(redis, layout)
  // A consumer per shard, the registry's extra shards included: a lowered count strands nothing.
  const consumer = await ShardedConsumer.start({ redis, layout, consumerName: workerId, onGroupMissing: (shard) => resetWatch.groupVanished(shard) })
  const figures = new RollingFigures()
  // Paused from the first insert that failed for want of the store until a batch is stored whole.
  let paused = false
  const worker = new QueueWorker({
    consumer,
    store,
    logger: logger.child({ worker_id: workerId }),
    flushIntervalMs: config.worker.flushIntervalMs,
    claimIdleMs: config.worker.claimIdleMs,
    claimEveryMs: config.worker.claimEveryMs,
    storeProbeEveryMs: config.worker.storeProbeEveryMs,
    idleBlockMs: config.worker.idleBlockMs,
    depthEveryMs: config.worker.depthEveryMs,
    batch: config.worker.batch,
    retry: backoffFromConfig(config.worker),
    // Counted when they happen, so `failures_last_minute` (and `high_failure_rate`) rise during an
    // outage rather than after it; the batch report's failedAttempts are not counted again.
    onFailedAttempt: () => {
      figures.recordFailure()
      options.observeFailedAttempt?.()
      options.observeStorePause?.('paused', workerId)
      paused = true
    },
    onBatch: (report) => {
      figures.record(report)
      // A batch left partly unwritten at shutdown is no resumption: the stop ends that pause.
      if (paused && report.stored + report.duplicates + report.deadLettered === report.size) {
        paused = false
        options.observeStorePause?.('resumed', workerId)
      }
      options.observeBatch?.(report)
      if (report.deadLettered > 0) logger.warn({ worker_id: workerId, dead_lettered: report.deadLettered }, 'events moved to the dead-letter queue')
    },
  })
  const monitor = new QueueMonitor(redis, keys)
  // Single flight: with `maxRetriesPerRequest: null` a beat sent while Redis is down waits in the
  // client's offline queue and never settles; beating again would pile beats up, all flushed in a
  // burst when Redis returns. While one beat is out, the next ones are skipped (and counted).
  let beatInFlight: Promise<void> | undefined
  let skippedBeats = 0
  // Set by stop(): a beat held up by an outage must not publish after the key was deleted.
  let retired = false
  const publishBeat = async () => {
    try {
      // Each beat also looks for a Redis that lost the queue, and writes back the unacknowledged
      // loss records this process holds if Redis lost those too. Alongside the beat's own reads,
      // and a failed look does not cost the beat.
      const looked = resetWatch
        .check()
        .then(() => resetWatch.losses())
        .catch((error: unknown) => logger.warn({ err_message: (error as Error).message }, 'looking for a Redis reset failed'))
      const [depth, oldestAgeMs] = await Promise.all([consumer.depth(), consumer.oldestAgeMs(), looked])
      if (retired) return
      const heartbeat: WorkerHeartbeat = {
        pid: process.pid,
        queue_length: depth,
        oldest_event_age_ms: oldestAgeMs,
        current_batch_size: worker.currentBatchSize,
        ...figures.lastMinute(),
        total_stored: figures.lifetime.stored,
        total_dead_lettered: figures.lifetime.deadLettered,
      }
      await monitor.publishHeartbeat(workerId, encodeHeartbeat(heartbeat), config.worker.heartbeatEveryMs * 3)
    } catch (error) {
      logger.warn({ err_message: (error as Error).message }, 'worker heartbeat failed')
    }
  }
  const beat = (): Promise<void> => {
    if (beatInFlight !== undefined) {
      skippedBeats += 1
      logger.debug({ worker_id: workerId, skipped_beats: skippedBeats }, 'heartbeat skipped: the previous beat is still in flight')
      return beatInFlight
    }
    const current = publishBeat().finally(() => {
      beatInFlight = undefined
    })
    beatInFlight = current
    return current
  }
  /**
   * Takes the worker out of the live workers at once rather than after its TTL (3 beats), so health
   * stops reporting a worker that is gone. Best effort and bounded: a dead Redis must not hang stop().
   */
  const retireHeartbeat = async (boundMs: number) => {
    retired = true
    if (beatInFlight !== undefined && !(await settlesWithin(beatInFlight, boundMs))) {
      logger.debug({ worker_id: workerId }, 'heartbeat still in flight at stop; not waiting for it')
    }
    // Queued behind any beat still in flight on the same connection, so it lands after it.
    const removed = redis.multi().del(keys.worker(workerId)).zrem(keys.workers, workerId).exec()
    removed.catch(() => undefined) // Rejected later when the caller disconnects a dead Redis: nothing to do.
    if (!(await settlesWithin(removed, boundMs))) {
      logger.warn({ worker_id: workerId }, 'could not remove the worker heartbeat in time; it expires on its own TTL')
    }
  }
  worker.start()
  await beat()
  const timer = setInterval(() => void beat(), config.worker.heartbeatEveryMs)
  timer.unref()
  logger.info({ worker_id: workerId, queue: keys.events, shards: consumer.shards.map((shard) => shard.tag) }, 'queue worker started')
  return {
    workerId,
    worker,
    get skippedBeats() {
      return skippedBeats
    },
    stop: async (deadlineMs = config.worker.shutdownDeadlineMs) => {
      const retireBoundMs = Math.min(RETIRE_BOUND_MS, Math.floor(deadlineMs / 4))
      // Beats go on while the worker drains: it is still working, and health should say so.
      const result = await worker.stop(deadlineMs - 2 * retireBoundMs)
      clearInterval(timer)
      await retireHeartbeat(retireBoundMs)
      await consumer.close()
      logger.info({ worker_id: workerId, drained: result.drained }, 'queue worker stopped')
      return result
    },
  }
}

/** Whether `promise` settles (either way) within `ms`; never rejects, leaves no timer behind. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const settled = promise.then(
    () => true,
    () => true,
  )
  return (await withDeadline(settled, ms)) ?? false
}
