import { hostname } from 'node:os'
import type { Redis } from 'ioredis'
import type { Config } from '../config.js'
import { QueueMonitor, queueKeys, RedisStreamsConsumer } from '../queue/redis-streams/index.js'
import type { Store } from '../store/store.js'
import type { Logger } from '../util/logger.js'
import { RollingFigures } from './figures.js'
import { QueueWorker, type BatchReport } from './queue-worker.js'

export interface WorkerRuntimeOptions {
  config: Config
  store: Store
  redis: Redis
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
}

export interface WorkerRuntime {
  readonly workerId: string
  readonly worker: QueueWorker
  /** Stops within `deadlineMs` (default `worker.shutdownDeadlineMs`). */
  stop(deadlineMs?: number): Promise<{ drained: boolean }>
}

/** One queue worker with its heartbeat: what `auditq worker` runs per process and `serve` runs in-process. */
export async function startWorkerRuntime(options: WorkerRuntimeOptions): Promise<WorkerRuntime> {
  const { config, store, redis, logger } = options
  const workerId = options.workerId ?? `${hostname()}-${process.pid}`
  const keys = queueKeys({ prefix: config.queue.prefix, queue: config.queue.name })
  const consumer = await RedisStreamsConsumer.start({ redis, keys, consumerName: workerId })
  const figures = new RollingFigures()
  const worker = new QueueWorker({
    consumer,
    store,
    logger: logger.child({ worker_id: workerId }),
    flushIntervalMs: config.worker.flushIntervalMs,
    claimIdleMs: config.worker.claimIdleMs,
    claimEveryMs: config.worker.claimEveryMs,
    retry: {
      attempts: config.worker.retryAttempts,
      initialDelayMs: config.worker.retryInitialDelayMs,
      maxDelayMs: config.worker.retryMaxDelayMs,
    },
    // Counted when they happen, so `failures_last_minute` (and `high_failure_rate`) rise during an
    // outage rather than after it; the batch report's failedAttempts are not counted again.
    onFailedAttempt: () => {
      figures.recordFailure()
      options.observeFailedAttempt?.()
    },
    onBatch: (report) => {
      figures.record(report)
      options.observeBatch?.(report)
      if (report.deadLettered > 0) logger.warn({ worker_id: workerId, dead_lettered: report.deadLettered }, 'events moved to the dead-letter queue')
    },
  })
  const monitor = new QueueMonitor(redis, keys)
  const beat = async () => {
    try {
      const [depth, oldestAgeMs] = await Promise.all([consumer.depth(), consumer.oldestAgeMs()])
      await monitor.publishHeartbeat(
        workerId,
        {
          pid: process.pid,
          queue_length: depth,
          oldest_event_age_ms: oldestAgeMs,
          current_batch_size: worker.currentBatchSize,
          ...figures.lastMinute(),
          total_stored: figures.lifetime.stored,
          total_dead_lettered: figures.lifetime.deadLettered,
        },
        config.worker.heartbeatEveryMs * 3,
      )
    } catch (error) {
      logger.warn({ err_message: (error as Error).message }, 'worker heartbeat failed')
    }
  }
  worker.start()
  await beat()
  const timer = setInterval(() => void beat(), config.worker.heartbeatEveryMs)
  timer.unref()
  logger.info({ worker_id: workerId, queue: keys.events }, 'queue worker started')
  return {
    workerId,
    worker,
    stop: async (deadlineMs = config.worker.shutdownDeadlineMs) => {
      clearInterval(timer)
      const result = await worker.stop(deadlineMs)
      await consumer.close()
      logger.info({ worker_id: workerId, drained: result.drained }, 'queue worker stopped')
      return result
    },
  }
}
