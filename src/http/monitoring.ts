import type { FastifyInstance } from 'fastify'
import type { QueueStatus } from '../queue/queue-status.js'
import type { AuditLogger } from '../sdk/audit-logger.js'
import type { Store } from '../store/store.js'
import { hasScope } from './principal.js'

export interface MonitoringOptions {
  store: Store
  audit: AuditLogger
  pingTimeoutMs: number
  /** Present in queue mode. */
  queueStatus?: () => Promise<QueueStatus>
}

type Status = 'healthy' | 'degraded' | 'unhealthy'

/**
 * GET /api/v1/monitoring/health — the seeds' path and shape. The status is the *worst* condition
 * that holds: the store unreachable is unhealthy; in queue mode Redis unreachable (events spill
 * locally) or no live worker (the queue only grows) is degraded. Anything but healthy answers 503,
 * so a load balancer or orchestrator notices.
 */
export async function monitoringRoutes(app: FastifyInstance, options: MonitoringOptions): Promise<void> {
  app.get('/api/v1/monitoring/health', { config: { access: 'public' } }, async (request, reply) => {
    const [storeUp, queue] = await Promise.all([
      pingWithin(options.store, options.pingTimeoutMs),
      options.queueStatus?.(),
    ])
    const issues: { status: Status; issue: string }[] = []
    if (!storeUp) issues.push({ status: 'unhealthy', issue: 'store unreachable' })
    const services: Record<string, string> = { store: storeUp ? 'connected' : 'unreachable' }
    if (queue) {
      services.redis = queue.redis
      services.audit_worker = queue.liveWorkers.length > 0 ? 'running' : 'not running'
      if (queue.redis === 'unreachable') issues.push({ status: 'degraded', issue: 'redis unreachable: events are spilling to the local journal' })
      else if (queue.liveWorkers.length === 0) issues.push({ status: 'degraded', issue: 'no live queue worker: queued events are not being stored' })
    }
    const status: Status = issues.some((i) => i.status === 'unhealthy') ? 'unhealthy' : issues.length > 0 ? 'degraded' : 'healthy'
    // A load balancer needs the status only; queue depth, worker and store details are for admins.
    if (!hasScope(request, 'admin')) {
      return reply.status(status === 'healthy' ? 200 : 503).send({ status, timestamp: new Date().toISOString() })
    }
    const stats = options.audit.stats()
    const body = {
      status,
      issues: issues.map((i) => i.issue),
      services,
      store: { kind: options.store.kind },
      pipeline: queue
        ? {
            mode: 'queue',
            queue_length: queue.queueLength,
            dead_letters: queue.deadLetters,
            live_workers: queue.liveWorkers.length,
            redis_crash_loses: queue.redisLossWindow,
            spilled: stats.spilled,
            replayed: stats.replayed,
          }
        : { mode: 'direct', pending: stats.pending, stored: stats.stored, failed: stats.failed },
      timestamp: new Date().toISOString(),
    }
    return reply.status(status === 'healthy' ? 200 : 503).send(body)
  })
}

async function pingWithin(store: Store, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs)
  })
  try {
    return await Promise.race([store.ping().then(() => true as const), timeout])
  } catch {
    return false
  } finally {
    clearTimeout(timer)
  }
}
