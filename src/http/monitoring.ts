import type { FastifyInstance } from 'fastify'
import type { AuditLogger } from '../sdk/audit-logger.js'
import type { Store } from '../store/store.js'

export interface MonitoringOptions {
  store: Store
  audit: AuditLogger
  pingTimeoutMs: number
}

/**
 * GET /api/v1/monitoring/health — the seeds' path and shape. 503 when the store cannot answer, so
 * a load balancer stops sending events to an instance that could not store them.
 */
export async function monitoringRoutes(app: FastifyInstance, options: MonitoringOptions): Promise<void> {
  app.get('/api/v1/monitoring/health', async (_request, reply) => {
    const storeUp = await pingWithin(options.store, options.pingTimeoutMs)
    const stats = options.audit.stats()
    const body = {
      status: storeUp ? 'healthy' : 'unhealthy',
      services: { store: storeUp ? 'connected' : 'unreachable' },
      store: { kind: options.store.kind },
      pipeline: { mode: 'direct', pending: stats.pending, stored: stats.stored, failed: stats.failed },
      timestamp: new Date().toISOString(),
    }
    return reply.status(storeUp ? 200 : 503).send(body)
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
